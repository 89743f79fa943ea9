package timeline

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/models"
)

func spanByID(m *Model, id string) *SpanNode {
	for i := range m.Spans {
		if m.Spans[i].SpanID == id {
			return &m.Spans[i]
		}
	}
	return nil
}

const msNs = int64(1e6)

func TestSelfTimeSequentialChildren(t *testing.T) {
	m := Merge(&Trace{TraceID: tid, Spans: []Span{
		span("p", "", "go-api", TierGo, 0, 100),
		span("a", "p", "go-api", TierMySQL, 10, 30),
		span("b", "p", "go-api", TierRedis, 40, 70),
	}})
	require.Equal(t, 50*msNs, spanByID(m, "p").SelfNs) // 100 - 20 - 30
	require.Equal(t, 20*msNs, spanByID(m, "a").SelfNs)
	// Critical path: p, then b (finished last), then a (finished before b started).
	require.True(t, spanByID(m, "p").Critical)
	require.True(t, spanByID(m, "b").Critical)
	require.True(t, spanByID(m, "a").Critical)
}

func TestSelfTimeParallelMySQLAndRedisUnderRails(t *testing.T) {
	m := Merge(&Trace{TraceID: tid, Spans: []Span{
		span("r", "", "rails-api", TierRails, 0, 100),
		span("m", "r", "rails-api", TierMySQL, 10, 60),
		span("d", "r", "rails-api", TierRedis, 20, 50), // inside mysql's interval
		span("x", "r", "rails-api", TierRedis, 55, 80), // overlaps mysql's end
	}})
	// Union of children: [10,80] = 70 → self 30.
	require.Equal(t, 30*msNs, spanByID(m, "r").SelfNs)
	// Critical path from r's end (100): x ends last (80); from x's start (55), a child ending ≤ 55: d (50); then none ending ≤ 20.
	require.True(t, spanByID(m, "x").Critical)
	require.True(t, spanByID(m, "d").Critical)
	require.False(t, spanByID(m, "m").Critical, "m ends at 60, after x started at 55")
	sum := m.Summary
	require.Equal(t, int64(100*msNs), sum.WallNs)
	tiers := map[string]TierStat{}
	for _, ts := range sum.Tiers {
		tiers[ts.Tier] = ts
	}
	require.Equal(t, 30*msNs, tiers[TierRails].SelfNs)
	require.Equal(t, 50*msNs, tiers[TierMySQL].SelfNs)
	require.Equal(t, 55*msNs, tiers[TierRedis].SelfNs) // 30 + 25
	require.InDelta(t, 0.55, tiers[TierRedis].Share, 1e-9)
	require.Equal(t, 2, tiers[TierRedis].Spans)
	require.Equal(t, []string{TierRails, TierMySQL, TierRedis}, []string{sum.Tiers[0].Tier, sum.Tiers[1].Tier, sum.Tiers[2].Tier})
}

func TestSelfTimeChildLongerThanParentIsClipped(t *testing.T) {
	m := Merge(&Trace{TraceID: tid, Spans: []Span{
		span("p", "", "go-api", TierGo, 0, 50),
		span("c", "p", "rails-api", TierRails, 40, 120), // clock skew: overhangs by 70
		span("d", "p", "rails-api", TierRails, 45, 60),  // overlaps c and the overhang
	}})
	// Clipped union inside p: [40,50] = 10 → self 40 (not 50-80-15 < 0).
	require.Equal(t, 40*msNs, spanByID(m, "p").SelfNs)
	require.Equal(t, 80*msNs, spanByID(m, "c").SelfNs)
	require.Equal(t, int64(120*msNs), m.Summary.WallNs)
}

func TestOrphanSpansAreRootsAndCounted(t *testing.T) {
	m := Merge(&Trace{TraceID: tid, Spans: []Span{
		span("root", "", "go-proxy", TierProxy, 0, 100),
		span("orphan", "gone", "rails-api", TierRails, 10, 20),
	}})
	o := spanByID(m, "orphan")
	require.Equal(t, 0, o.Depth)
	require.Equal(t, 10*msNs, o.SelfNs)
	require.Equal(t, 100*msNs, spanByID(m, "root").SelfNs, "an orphan is not the root's child")
	require.True(t, spanByID(m, "root").Critical)
	require.False(t, o.Critical)
}

func TestProducerConsumerPair(t *testing.T) {
	// The consumer ends after its producer's parent: it is clipped in the
	// parent's self time and the parent's critical path.
	tr := &Trace{TraceID: tid, Spans: []Span{
		span("api", "", "go-api", TierGo, 0, 30),
		span("prod", "api", "go-api", TierGo, 5, 10),
		span("cons", "prod", "rails-api", TierRails, 20, 80),
	}}
	tr.Spans[1].Kind = KindProducer
	tr.Spans[2].Kind = KindConsumer
	m := Merge(tr)
	require.Equal(t, 25*msNs, spanByID(m, "api").SelfNs) // 30 - 5
	require.Equal(t, 5*msNs, spanByID(m, "prod").SelfNs) // consumer is entirely after the producer: clipped to nothing
	require.Equal(t, 60*msNs, spanByID(m, "cons").SelfNs)
	require.True(t, spanByID(m, "prod").Critical)
	require.Equal(t, int64(80*msNs), m.Summary.WallNs)
}

func TestFirstErrorAndSlowest(t *testing.T) {
	tr := fiveTier()
	tr.Spans[5].StatusCode = StatusError // redis client 30-50
	l := logAt("kafka:audit", "rails-api", "", "payment failed", 25)
	l.Severity = SeverityError
	m := Merge(tr, []LogRecord{l})
	fe := m.Summary.FirstError
	require.NotNil(t, fe)
	require.Equal(t, EventLog, fe.Kind)
	require.Equal(t, "payment failed", fe.Name)
	require.Equal(t, "kafka:audit", fe.Source)
	require.Equal(t, "0000000000000005", fe.SpanID, "attached by time to the mysql client span (20-40)")
	require.Equal(t, TierMySQL, fe.Tier)
	require.Equal(t, 25*msNs, fe.OffsetNs)
	require.NotNil(t, m.Summary.Slowest)
	// proxy 0-100 has child 5-95 → self 10; rails 10-90 with children [20,50] → self 50.
	require.Equal(t, "0000000000000004", m.Summary.Slowest.SpanID)
	require.Equal(t, 50*msNs, m.Summary.Slowest.SelfNs)
}

func TestNoErrors(t *testing.T) {
	m := Merge(fiveTier())
	require.Nil(t, m.Summary.FirstError)
	for _, ts := range m.Summary.Tiers {
		require.Zero(t, ts.Errors)
	}
	total := int64(0)
	for _, ts := range m.Summary.Tiers {
		total += ts.SelfNs
	}
	// Self times partition the root's duration except where siblings run in
	// parallel: MySQL 20-40 and Redis 30-50 both own 30-40, so 100 + 10.
	require.Equal(t, m.Summary.WallNs+10*msNs, total)
}

func BenchmarkSummarize(b *testing.B) {
	tr, _, _ := bigInput(10_000, 0)
	m := Merge(tr)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if Summarize(m) == nil {
			b.Fatal("nil summary")
		}
	}
}

func tierNames(sum *Summary) []string {
	var out []string
	for _, ts := range sum.Tiers {
		out = append(out, ts.Tier)
	}
	return out
}

// TestSummaryUserNamedTiers: tiers are the user's names; rows come in
// configured order, then unordered tiers by first appearance, other last.
func TestSummaryUserNamedTiers(t *testing.T) {
	one := func(n int) *int { return &n }
	spans := []Span{
		span("e", "", "envoy", "edge", 0, 100),
		span("c", "e", "checkout", "checkout-api", 5, 95),
		span("q", "c", "checkout", "queue", 8, 20), // no order: first seen at 8
		span("d", "c", "pg", "datastore", 20, 60),
		span("x", "c", "cron", "", 61, 70), // no rule ran: other
		span("k", "c", "search", "search", 70, 80),
	}
	styles := []models.TierStyle{
		{Tier: "datastore", Order: one(3), Color: "dark-green"},
		{Tier: "edge", Order: one(1), Color: "#8f3bb8"},
		{Tier: "checkout-api", Order: one(2)},
		{Tier: "search"}, // named by a rule, no order
	}
	m := Merge(&Trace{TraceID: tid, Spans: spans, TierStyles: styles})
	require.Equal(t, []string{"edge", "checkout-api", "datastore", "queue", "search", TierOther}, tierNames(m.Summary))
	require.Equal(t, "#8f3bb8", m.Summary.Tiers[0].Color)
	require.Equal(t, "", m.Summary.Tiers[1].Color)
	require.Equal(t, "dark-green", m.Summary.Tiers[2].Color)
	require.Equal(t, 40*msNs, m.Summary.Tiers[2].SelfNs)

	// ForSpan keeps the styles: a one-span model still orders and colours.
	sub := m.ForSpan("e")
	require.Equal(t, []string{"edge"}, tierNames(sub.Summary))
	require.Equal(t, "#8f3bb8", sub.Summary.Tiers[0].Color)

	// Without any order, rows follow first appearance; a log-only tier
	// (logs tied to no span, of a service with no span) is placed by its
	// earliest line, and other still comes last.
	styles = []models.TierStyle{{Tier: "edge"}, {Tier: "checkout-api"}, {Tier: "datastore"}}
	m = Merge(&Trace{TraceID: tid, Spans: []Span{
		span("d", "", "pg", "datastore", 0, 10),
		span("x", "", "cron", "", 1, 2),
		span("e", "", "envoy", "edge", 3, 100),
	}, TierStyles: styles})
	require.Equal(t, []string{"datastore", "edge", TierOther}, tierNames(m.Summary))

	// An explicit order for other puts it where the user said.
	styles = []models.TierStyle{{Tier: TierOther, Order: one(0)}, {Tier: "edge", Order: one(1)}}
	m = Merge(&Trace{TraceID: tid, Spans: []Span{span("e", "", "envoy", "edge", 0, 100), span("x", "e", "cron", "", 1, 2)}, TierStyles: styles})
	require.Equal(t, []string{TierOther, "edge"}, tierNames(m.Summary))
}

// TestSummaryDefaultOrder: without styles the default rules' order applies,
// the reference architecture's request path, whatever order spans start in.
func TestSummaryDefaultOrder(t *testing.T) {
	m := Merge(&Trace{TraceID: tid, Spans: []Span{
		span("r", "", "redis", TierRedis, 0, 100),
		span("x", "r", "misc", "", 1, 2),
		span("m", "r", "mysql", TierMySQL, 3, 4),
		span("g", "r", "go-api", TierGo, 5, 6),
		span("p", "r", "proxy", TierProxy, 7, 8),
		span("a", "r", "rails", TierRails, 9, 10),
	}})
	require.Equal(t, []string{TierProxy, TierGo, TierRails, TierMySQL, TierRedis, TierOther}, tierNames(m.Summary))
}
