package timeline

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

const tid = "4bf92f3577b34da6a3ce929d0e0e4736"

// ms is a readable time: milliseconds after a fixed epoch, in ns.
func ms(v float64) int64 { return 1_700_000_000_000_000_000 + int64(v*1e6) }

func span(id, parent, service, tier string, start, end float64) Span {
	return Span{TraceID: tid, SpanID: id, ParentSpanID: parent, Name: "op-" + id, Service: service, Tier: tier, StartNs: ms(start), EndNs: ms(end), Kind: KindServer}
}

func logAt(src, service, spanID, body string, at float64) LogRecord {
	return LogRecord{TimeNs: ms(at), Body: body, Severity: SeverityInfo, TraceID: tid, SpanID: spanID, Service: service, Source: src}
}

// fiveTier is proxy(0-100) → go-api(5-95) → rails(10-90) → {mysql client(20-40), redis client(30-50)}.
func fiveTier() *Trace {
	return &Trace{TraceID: tid, Spans: []Span{
		span("0000000000000004", "0000000000000003", "rails-api", TierRails, 10, 90),
		span("0000000000000001", "", "go-proxy", TierProxy, 0, 100),
		span("0000000000000002", "0000000000000001", "go-api", TierGo, 5, 95),
		span("0000000000000003", "0000000000000002", "go-api", TierGo, 8, 92),
		span("0000000000000005", "0000000000000004", "rails-api", TierMySQL, 20, 40),
		span("0000000000000006", "0000000000000004", "rails-api", TierRedis, 30, 50),
	}}
}

func byBody(m *Model) map[string]Log {
	out := map[string]Log{}
	for _, l := range m.Logs {
		out[l.Body] = l
	}
	return out
}

func TestMergeAttachment(t *testing.T) {
	loki := []LogRecord{
		logAt(SourceLoki, "rails-api", "0000000000000005", "by span id", 25),
		logAt(SourceLoki, "rails-api", "", "inside mysql and redis: innermost latest-starting", 35),
		logAt(SourceLoki, "rails-api", "", "inside rails only", 60),
		logAt(SourceLoki, "go-api", "", "go-api: innermost of two go-api spans", 50),
		logAt(SourceLoki, "rails-api", "", "after every span (export delay)", 500),
		logAt(SourceLoki, "rails-api", "", "before every span (clock skew)", -20),
		logAt(SourceLoki, "billing", "", "service without spans", 50),
		logAt(SourceLoki, "rails-api", "00000000000000ff", "unknown span id falls back to time", 70),
	}
	m := Merge(fiveTier(), loki)
	got := byBody(m)
	cases := []struct{ body, span, attach, tier string }{
		{"by span id", "0000000000000005", AttachSpanID, TierMySQL},
		{"inside mysql and redis: innermost latest-starting", "0000000000000006", AttachTime, TierRedis},
		{"inside rails only", "0000000000000004", AttachTime, TierRails},
		{"go-api: innermost of two go-api spans", "0000000000000003", AttachTime, TierGo},
		{"after every span (export delay)", "", AttachNone, TierRails},
		{"before every span (clock skew)", "", AttachNone, TierRails},
		{"service without spans", "", AttachNone, TierOther},
		{"unknown span id falls back to time", "0000000000000004", AttachTime, TierRails},
	}
	for _, c := range cases {
		l, ok := got[c.body]
		require.True(t, ok, c.body)
		require.Equal(t, c.span, l.AttachedSpanID, c.body)
		require.Equal(t, c.attach, l.Attach, c.body)
		require.Equal(t, c.tier, l.Tier, c.body)
	}
	// Spans with no logs keep an empty list; the proxy has none.
	for _, s := range m.Spans {
		if s.SpanID == "0000000000000001" {
			require.Empty(t, s.Logs)
		}
	}
}

func TestMergeDedupAcrossSources(t *testing.T) {
	loki := []LogRecord{logAt(SourceLoki, "rails-api", "0000000000000004", "GET /orders 200", 60.4)}
	loki[0].Labels = LabelsFromMap(map[string]string{"env": "test"})
	otlp := []LogRecord{logAt("kafka:otlp_logs", "rails-api", "", "GET /orders 200", 60.9)} // same millisecond? no: 60.4 vs 60.9 → both in ms 60
	otlp[0].Labels = LabelsFromMap(map[string]string{"env": "prod", "host": "h1"})
	raw := []LogRecord{logAt("kafka:syslog", "", "", `"GET  /orders 200\n"`, 60.1)}      // JSON-quoted, extra spaces
	other := []LogRecord{logAt("kafka:audit", "rails-api", "", "GET /orders 200", 61.0)} // next millisecond: distinct
	m := Merge(fiveTier(), loki, otlp, raw, other)
	require.Len(t, m.Logs, 2)
	first := m.Logs[0]
	require.Equal(t, []string{"loki", "kafka:otlp_logs", "kafka:syslog"}, first.Sources)
	require.Equal(t, "loki,kafka:otlp_logs,kafka:syslog", first.SourceList())
	require.Equal(t, "test", first.Labels.Get("env"), "first source's value wins")
	require.Equal(t, "h1", first.Labels.Get("host"), "missing labels are filled in")
	require.Equal(t, "0000000000000004", first.AttachedSpanID)
	require.Equal(t, []string{"kafka:audit"}, m.Logs[1].Sources)
	// Inputs are not modified.
	require.Equal(t, "test", loki[0].Labels.Get("env"))
	require.Len(t, loki[0].Labels, 1)
}

func TestMergeDifferentTraceIDsAreNotMerged(t *testing.T) {
	a := logAt(SourceLoki, "x", "", "same", 1)
	b := logAt("kafka:t", "x", "", "same", 1)
	b.TraceID = "00000000000000000000000000000001"
	m := Merge(nil, []LogRecord{a}, []LogRecord{b})
	require.Len(t, m.Logs, 2)
}

func TestMergeOrdering(t *testing.T) {
	tr := fiveTier()
	logs := []LogRecord{
		logAt(SourceLoki, "rails-api", "", "b at 20", 20),
		logAt(SourceLoki, "rails-api", "", "a at 20", 20),
		logAt(SourceLoki, "go-proxy", "", "at 0", 0),
	}
	m := Merge(tr, logs)
	// Spans by start; logs by time, stable for equal times.
	for i := 1; i < len(m.Spans); i++ {
		require.LessOrEqual(t, m.Spans[i-1].StartNs, m.Spans[i].StartNs)
	}
	require.Equal(t, []string{"at 0", "b at 20", "a at 20"}, []string{m.Logs[0].Body, m.Logs[1].Body, m.Logs[2].Body})
	// Events: a span start before logs of the same instant.
	require.Equal(t, EventSpan, m.Events[0].Kind)
	require.Equal(t, "0000000000000001", m.Spans[m.Events[0].Index].SpanID)
	require.Equal(t, EventLog, m.Events[1].Kind)
	var kinds []string
	for _, e := range m.Events {
		if e.TimeNs == ms(20) {
			kinds = append(kinds, e.Kind)
		}
	}
	require.Equal(t, []string{EventSpan, EventLog, EventLog}, kinds)
	require.Len(t, m.Events, len(m.Spans)+len(m.Logs))
	require.Equal(t, ms(0), m.StartNs)
	require.Equal(t, ms(100), m.EndNs)
}

func TestMergeDepthsOrphansAndCycles(t *testing.T) {
	tr := &Trace{TraceID: tid, Spans: []Span{
		span("a", "", "s", TierGo, 0, 10),
		span("b", "a", "s", TierGo, 1, 9),
		span("c", "missing", "s", TierGo, 2, 3), // orphan: root
		span("d", "e", "s", TierGo, 4, 5),       // cycle d↔e
		span("e", "d", "s", TierGo, 4, 5),
	}}
	m := Merge(tr)
	depth := map[string]int{}
	for _, s := range m.Spans {
		depth[s.SpanID] = s.Depth
	}
	require.Equal(t, 0, depth["a"])
	require.Equal(t, 1, depth["b"])
	require.Equal(t, 0, depth["c"])
	require.ElementsMatch(t, []int{0, 1}, []int{depth["d"], depth["e"]})
}

func TestMergeErrorFlags(t *testing.T) {
	tr := fiveTier()
	tr.Spans[5].StatusCode = StatusError // redis client
	l := logAt(SourceLoki, "rails-api", "0000000000000005", "mysql deadlock", 22)
	l.Severity = SeverityCritical
	m := Merge(tr, []LogRecord{l})
	errs := map[string]bool{}
	for _, s := range m.Spans {
		errs[s.SpanID] = s.Error
	}
	require.True(t, errs["0000000000000006"], "status error")
	require.True(t, errs["0000000000000005"], "critical log")
	require.False(t, errs["0000000000000004"])
}

func TestMergeLogOnly(t *testing.T) {
	m := Merge(nil, []LogRecord{logAt(SourceLoki, "a", "", "x", 5), logAt(SourceLoki, "a", "", "y", 9)})
	require.Empty(t, m.Spans)
	require.Equal(t, ms(5), m.StartNs)
	require.Equal(t, ms(9), m.EndNs)
	require.Equal(t, AttachNone, m.Logs[0].Attach)
	require.Equal(t, TierOther, m.Logs[0].Tier)
}

func TestForSpan(t *testing.T) {
	m := Merge(fiveTier(), []LogRecord{
		logAt(SourceLoki, "rails-api", "0000000000000005", "one", 25),
		logAt(SourceLoki, "rails-api", "0000000000000005", "two", 26),
		logAt(SourceLoki, "rails-api", "0000000000000004", "other", 27),
	})
	f := m.ForSpan("0000000000000005")
	require.Len(t, f.Logs, 2)
	require.Equal(t, "one", f.Logs[0].Body)
	require.Equal(t, []int{0, 1}, f.Spans[0].Logs)
	require.Empty(t, m.ForSpan("00000000000000aa").Logs)
}

// bigModel builds a trace of n spans over 5 services and k logs.
func bigInput(n, k int) (*Trace, []LogRecord, []LogRecord) {
	services := []string{"go-proxy", "go-api", "rails-api", "mysql", "redis"}
	tr := &Trace{TraceID: tid}
	for i := 0; i < n; i++ {
		parent := ""
		if i > 0 {
			parent = fmt.Sprintf("%016x", (i-1)/4)
		}
		tr.Spans = append(tr.Spans, Span{TraceID: tid, SpanID: fmt.Sprintf("%016x", i), ParentSpanID: parent,
			Service: services[i%5], Tier: TierGo, StartNs: ms(float64(i)), EndNs: ms(float64(i + 50)), Name: "op"})
	}
	loki := make([]LogRecord, 0, k/2)
	kafka := make([]LogRecord, 0, k/2)
	for i := 0; i < k; i++ {
		r := LogRecord{TimeNs: ms(float64(i%n) + 0.5), Body: fmt.Sprintf("line %d", i), Severity: SeverityInfo, TraceID: tid, Service: services[i%5]}
		if i%3 == 0 {
			r.SpanID = fmt.Sprintf("%016x", i%n)
		}
		if i%2 == 0 {
			r.Source = SourceLoki
			loki = append(loki, r)
		} else {
			r.Source = "kafka:otlp_logs"
			kafka = append(kafka, r)
		}
	}
	return tr, loki, kafka
}

func BenchmarkMerge(b *testing.B) {
	for _, size := range []struct{ spans, logs int }{{1_000, 10_000}, {10_000, 100_000}} {
		b.Run(fmt.Sprintf("spans=%d/logs=%d", size.spans, size.logs), func(b *testing.B) {
			tr, loki, kafka := bigInput(size.spans, size.logs)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m := Merge(tr, loki, kafka)
				if len(m.Logs) != size.logs {
					b.Fatalf("got %d logs", len(m.Logs))
				}
			}
		})
	}
}

// BenchmarkMergeOverlap is BenchmarkMerge's large case with what a real
// incident gives: Loki and a Kafka topic holding the same lines. Loki
// returns all lines in time order; Kafka holds every other one again, with
// its time cut to the millisecond, plus lines of its own — so half the
// Kafka records merge into Loki's lines.
func BenchmarkMergeOverlap(b *testing.B) {
	const spans, logs = 10_000, 100_000
	tr, loki, kafka := bigInput(spans, logs)
	loki = append(loki, kafka...)
	slices.SortStableFunc(loki, func(a, b LogRecord) int { return cmp.Compare(a.TimeNs, b.TimeNs) })
	kafka = kafka[:0]
	for i, r := range loki {
		if i%2 == 0 {
			r.TimeNs -= r.TimeNs % 1e6
			r.Source = "kafka:otlp_logs"
			kafka = append(kafka, r)
		}
	}
	for i := range loki {
		loki[i].Source = SourceLoki
	}
	own := logs / 10
	for i := range own { // Kafka-only lines, interleaved in time with the rest
		kafka = append(kafka, LogRecord{TimeNs: ms(float64(i*spans/own) + 0.25), Body: fmt.Sprintf("kafka only %d", i),
			Severity: SeverityWarn, TraceID: tid, Service: "redis", Source: "kafka:otlp_logs"})
	}
	slices.SortStableFunc(kafka, func(a, b LogRecord) int { return cmp.Compare(a.TimeNs, b.TimeNs) })
	b.Run(fmt.Sprintf("spans=%d/logs=%d+%d", spans, len(loki), len(kafka)), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m := Merge(tr, loki, kafka); len(m.Logs) != logs+own {
				b.Fatalf("got %d logs", len(m.Logs))
			}
		}
	})
}

// BenchmarkDedupLogs times dedupLogs alone on BenchmarkMerge's large input,
// the part of Merge that grows with the logs.
func BenchmarkDedupLogs(b *testing.B) {
	_, loki, kafka := bigInput(10_000, 100_000)
	b.ReportAllocs()
	for b.Loop() {
		if logs := dedupLogs(tid, [][]LogRecord{loki, kafka}); len(logs) != 100_000 {
			b.Fatalf("got %d logs", len(logs))
		}
	}
}
