package timeline

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMergeTimeAttachTieLatestStarting(t *testing.T) {
	// Two sibling spans of the same depth both hold t=30: the later-starting wins.
	tr := &Trace{TraceID: tid, Spans: []Span{
		span("p", "", "svc", TierGo, 0, 100),
		span("a", "p", "svc", TierGo, 10, 50),
		span("b", "p", "svc", TierGo, 20, 40),
		span("deep", "a", "other", TierGo, 25, 35), // deeper but another service
	}}
	m := Merge(tr, []LogRecord{logAt(SourceLoki, "svc", "", "x", 30), logAt(SourceLoki, "svc", "", "edge", 50)})
	got := byBody(m)
	require.Equal(t, "b", got["x"].AttachedSpanID)
	// [start, end] is closed: a log at a's end still sits in a (b ended at 40).
	require.Equal(t, "a", got["edge"].AttachedSpanID)
	require.Equal(t, AttachTime, got["edge"].Attach)
}

func TestMergeForeignTraceLogStaysTraceLevel(t *testing.T) {
	l := logAt(SourceLoki, "rails-api", "0000000000000005", "retry job for "+tid, 25)
	l.TraceID = "0000000000000000000000000000beef"
	m := Merge(fiveTier(), []LogRecord{l})
	require.Len(t, m.Logs, 1)
	require.Equal(t, AttachNone, m.Logs[0].Attach)
	require.Empty(t, m.Logs[0].AttachedSpanID)
	require.Equal(t, TierRails, m.Logs[0].Tier, "tier of the service's shallowest span")
	require.Equal(t, tid, m.TraceID)
}

func TestMergeDedupPrefersPlainBodyAndRichestFields(t *testing.T) {
	raw := LogRecord{TimeNs: ms(5.9), Body: `"cache miss for key orders:42"`, Severity: SeverityUnknown, Source: "kafka:syslog"}
	otlp := LogRecord{TimeNs: ms(5.2), Body: "cache  miss for key orders:42", Severity: SeverityWarn, TraceID: tid,
		SpanID: "0000000000000006", Service: "rails-api", Source: "kafka:otlp_logs"}
	again := otlp // at-least-once redelivery: same source again
	m := Merge(fiveTier(), []LogRecord{raw}, []LogRecord{otlp, again})
	require.Len(t, m.Logs, 1)
	l := m.Logs[0]
	require.Equal(t, []string{"kafka:syslog", "kafka:otlp_logs"}, l.Sources, "input order, no repeats")
	require.Equal(t, "cache  miss for key orders:42", l.Body, "the unquoted body replaces the JSON-quoted one")
	require.Equal(t, SeverityWarn, l.Severity)
	require.Equal(t, "rails-api", l.Service)
	require.Equal(t, "0000000000000006", l.AttachedSpanID)
	require.Equal(t, AttachSpanID, l.Attach)
	require.Equal(t, ms(5.9), l.TimeNs, "the first record's time is kept")
	require.Equal(t, `"cache miss for key orders:42"`, raw.Body, "inputs untouched")
}

func TestMergeDedupMillisecondTruncation(t *testing.T) {
	a := logAt(SourceLoki, "s", "", "x", 7.999)
	b := logAt("kafka:t", "s", "", "x", 7.0)
	c := logAt("kafka:u", "s", "", "x", 8.0) // next millisecond
	m := Merge(nil, []LogRecord{a}, []LogRecord{b}, []LogRecord{c})
	require.Len(t, m.Logs, 2)
	require.Equal(t, []string{"loki", "kafka:t"}, m.Logs[0].Sources)
	require.Equal(t, []string{"kafka:u"}, m.Logs[1].Sources)
}

func TestSpanLogs(t *testing.T) {
	m := Merge(fiveTier(), []LogRecord{
		logAt(SourceLoki, "rails-api", "0000000000000005", "two", 26),
		logAt(SourceLoki, "rails-api", "0000000000000005", "one", 25),
	})
	logs := m.SpanLogs("0000000000000005")
	require.Len(t, logs, 2)
	require.Equal(t, "one", logs[0].Body, "time order")
	require.Empty(t, m.SpanLogs("0000000000000001"), "a span with no logs")
	require.Nil(t, m.SpanLogs("nope"))
	require.Nil(t, m.SpanLogs(""))
	i, ok := m.SpanIndex("0000000000000005")
	require.True(t, ok)
	require.Equal(t, "0000000000000005", m.Spans[i].SpanID)
	// A hand-built model without the index is searched linearly.
	hand := &Model{Spans: m.Spans, Logs: m.Logs}
	require.Len(t, hand.SpanLogs("0000000000000005"), 2)
}

func TestMergeSpanTiesParentFirstThenID(t *testing.T) {
	m := Merge(&Trace{TraceID: tid, Spans: []Span{
		span("c2", "p", "s", TierGo, 0, 5),
		span("c1", "p", "s", TierGo, 0, 5),
		span("p", "", "s", TierGo, 0, 10),
	}})
	require.Equal(t, []string{"p", "c1", "c2"}, []string{m.Spans[0].SpanID, m.Spans[1].SpanID, m.Spans[2].SpanID})
}

func TestFirstErrorIsTheFailingChildNotItsParent(t *testing.T) {
	tr := fiveTier()
	tr.Spans[1].StatusCode = StatusError // proxy 0-100: the error propagated up
	tr.Spans[5].StatusCode = StatusError // redis client 30-50: the cause
	tr.Spans[5].Events = []SpanEvent{{TimeNs: ms(45), Name: "exception"}}
	m := Merge(tr)
	fe := m.Summary.FirstError
	require.NotNil(t, fe)
	require.Equal(t, "0000000000000006", fe.SpanID)
	require.Equal(t, 45*msNs, fe.OffsetNs, "at its exception event")
	require.Equal(t, TierRedis, fe.Tier)
	require.Equal(t, SourceTempo, fe.Source)
	var errs int
	for _, ts := range m.Summary.Tiers {
		errs += ts.Errors
	}
	require.Equal(t, 2, errs)
}

func TestSummarizeTiersAndServices(t *testing.T) {
	m := Merge(fiveTier(), []LogRecord{
		logAt(SourceLoki, "billing", "", "no spans of mine", 10),
		logAt(SourceLoki, "rails-api", "0000000000000004", "GET /orders", 11),
	})
	var tiers []string
	for _, ts := range m.Summary.Tiers {
		tiers = append(tiers, ts.Tier)
	}
	require.Equal(t, []string{TierProxy, TierGo, TierRails, TierMySQL, TierRedis, TierOther}, tiers)
	other := m.Summary.Tiers[5]
	require.Equal(t, 0, other.Spans)
	require.Equal(t, 1, other.Logs)
	require.Equal(t, []string{"billing"}, other.Services)
	goTier := m.Summary.Tiers[1]
	require.Equal(t, 2, goTier.Spans)
	require.Equal(t, 10*msNs, goTier.SelfNs) // 02: 90-84, 03: 84-80
	require.InDelta(t, 0.10, goTier.Share, 1e-9)
	// rails-api owns rails, mysql and redis client spans: 50 + 20 + 20.
	require.Equal(t, "rails-api", m.Summary.Services[0].Service)
	require.Equal(t, 90*msNs, m.Summary.Services[0].SelfNs)
	require.Equal(t, TierRails, m.Summary.Services[0].Tier)
	// Critical path: proxy → go-api → go-api client → rails → redis (ends last) ; mysql overlaps redis.
	crit := map[string]bool{}
	for _, s := range m.Spans {
		crit[s.SpanID] = s.Critical
	}
	require.Equal(t, map[string]bool{"0000000000000001": true, "0000000000000002": true, "0000000000000003": true,
		"0000000000000004": true, "0000000000000005": false, "0000000000000006": true}, crit)
}

func TestSummarizeEmptyAndLogOnly(t *testing.T) {
	m := Merge(nil)
	require.NotNil(t, m.Summary)
	require.Zero(t, m.Summary.WallNs)
	require.Nil(t, m.Summary.Slowest)
	require.Empty(t, m.Events)

	e := logAt(SourceLoki, "a", "", "boom", 4)
	e.Severity = SeverityError
	m = Merge(&Trace{TraceID: tid}, []LogRecord{logAt(SourceLoki, "a", "", "x", 2), e})
	require.Equal(t, 2*msNs, m.Summary.WallNs)
	require.NotNil(t, m.Summary.FirstError)
	require.Equal(t, 2*msNs, m.Summary.FirstError.OffsetNs)
	require.Equal(t, 1, m.Summary.Tiers[0].Errors)
}

func TestSummarizeIsRepeatable(t *testing.T) {
	m := Merge(fiveTier())
	first := *m.Summary
	again := Summarize(m)
	require.Equal(t, first, *again)
	require.Same(t, again, m.Summary)
}
