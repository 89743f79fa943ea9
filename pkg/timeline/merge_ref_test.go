package timeline

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// referenceMerge is Merge written the plain way: an exact-key map for
// dedup, library stable sorts, a recursive depth walk, and a scan of every
// span for each log's time attachment. Merge must return the same model.
// It shares with Merge only the rules that are not about speed: body
// normalisation, mergeInto, dominantTraceID, extent and Summarize.
func referenceMerge(tr *Trace, logSets ...[]LogRecord) *Model {
	m := &Model{}
	if tr != nil {
		m.TraceID = tr.TraceID
		if m.TraceID == "" && len(tr.Spans) > 0 {
			m.TraceID = tr.Spans[0].TraceID
		}
		m.Spans = referenceSpanNodes(tr.Spans)
	}
	if m.TraceID == "" {
		m.TraceID = dominantTraceID(logSets)
	}
	m.Logs = referenceDedup(m.TraceID, logSets)
	m.spanIndex = map[string]int{}
	for i := range m.Spans {
		if _, ok := m.spanIndex[m.Spans[i].SpanID]; !ok {
			m.spanIndex[m.Spans[i].SpanID] = i
		}
	}
	referenceAttach(m)
	m.StartNs, m.EndNs = extent(m)
	// Span starts first, then logs; a stable sort by time keeps span starts
	// before logs of the same instant.
	m.Events = []Event{}
	for i := range m.Spans {
		m.Events = append(m.Events, Event{Kind: EventSpan, TimeNs: m.Spans[i].StartNs, Index: i})
	}
	for i := range m.Logs {
		m.Events = append(m.Events, Event{Kind: EventLog, TimeNs: m.Logs[i].TimeNs, Index: i})
	}
	slices.SortStableFunc(m.Events, func(a, b Event) int { return cmp.Compare(a.TimeNs, b.TimeNs) })
	Summarize(m)
	return m
}

func referenceSpanNodes(spans []Span) []SpanNode {
	nodes := make([]SpanNode, len(spans))
	first := map[string]int{}
	for i := range spans {
		nodes[i].Span = spans[i]
		nodes[i].Error = spans[i].StatusCode == StatusError
		if _, ok := first[spans[i].SpanID]; !ok {
			first[spans[i].SpanID] = i
		}
	}
	const unknown, visiting, done = 0, 1, 2
	state := make([]int, len(spans))
	var visit func(i int)
	visit = func(i int) {
		state[i] = visiting
		p, ok := first[nodes[i].ParentSpanID]
		switch {
		case nodes[i].ParentSpanID == "" || !ok || p == i:
			nodes[i].Depth = 0
		case state[p] == visiting: // a cycle is cut where the walk meets it again
			nodes[i].Depth = 0
		default:
			if state[p] == unknown {
				visit(p)
			}
			nodes[i].Depth = nodes[p].Depth + 1
		}
		state[i] = done
	}
	for i := range nodes {
		if state[i] == unknown {
			visit(i)
		}
	}
	slices.SortStableFunc(nodes, func(a, b SpanNode) int {
		return cmp.Or(cmp.Compare(a.StartNs, b.StartNs), cmp.Compare(a.Depth, b.Depth), cmp.Compare(a.SpanID, b.SpanID))
	})
	return nodes
}

func referenceDedup(traceID string, logSets [][]LogRecord) []Log {
	index := map[dedupKey]int{}
	logs := []Log{}
	var quoted []bool
	for _, set := range logSets {
		for i := range set {
			r := &set[i]
			body, q := normalizeBody(r.Body)
			msec := r.TimeNs / 1e6
			if r.TimeNs%1e6 < 0 {
				msec--
			}
			k := dedupKey{trace: cmp.Or(r.TraceID, traceID), ms: msec, body: body}
			if j, ok := index[k]; ok {
				if mergeInto(&logs[j], r, quoted[j] && !q) {
					quoted[j] = false
				}
				continue
			}
			index[k] = len(logs)
			var sources []string
			if r.Source != "" {
				sources = []string{r.Source}
			}
			rec := *r
			logs = append(logs, Log{LogRecord: &rec, Sources: sources})
			quoted = append(quoted, q)
		}
	}
	slices.SortStableFunc(logs, func(a, b Log) int { return cmp.Compare(a.TimeNs, b.TimeNs) })
	return logs
}

func referenceAttach(m *Model) {
	serviceTier := map[string]string{}
	serviceDepth := map[string]int{}
	for _, s := range m.Spans {
		if d, ok := serviceDepth[s.Service]; s.Service != "" && (!ok || s.Depth < d) {
			serviceDepth[s.Service], serviceTier[s.Service] = s.Depth, s.Tier
		}
	}
	for i := range m.Logs {
		l := &m.Logs[i]
		j := -1
		if l.TraceID == "" || m.TraceID == "" || l.TraceID == m.TraceID {
			if k, ok := m.spanIndex[l.SpanID]; ok && l.SpanID != "" {
				j, l.Attach = k, AttachSpanID
			} else if l.Service != "" {
				for k := range m.Spans {
					s := &m.Spans[k]
					if s.Service != l.Service || s.StartNs > l.TimeNs || s.EndNs < l.TimeNs {
						continue
					}
					if j < 0 || s.Depth > m.Spans[j].Depth || (s.Depth == m.Spans[j].Depth && s.StartNs >= m.Spans[j].StartNs) {
						j = k // deeper, or as deep and starting later or at once (the later-sorted wins)
					}
				}
				if j >= 0 {
					l.Attach = AttachTime
				}
			}
		}
		if j < 0 {
			l.Attach, l.Tier = AttachNone, TierOther
			if tier, ok := serviceTier[l.Service]; ok {
				l.Tier = tierName(tier)
			}
			continue
		}
		s := &m.Spans[j]
		l.AttachedSpanID, l.Tier = s.SpanID, tierName(s.Tier)
		s.Logs = append(s.Logs, i)
		s.Error = s.Error || IsErrorSeverity(l.Severity)
	}
}

// randomMergeInput draws a trace and log sets from small alphabets so that
// equal times, duplicate lines (across and within sources, in every body
// form), shared span IDs, cycles and orphans are common. Some sets are in
// time order, as upstreams return them, some in a few ordered runs, some
// shuffled; big sets exercise the unordered-input path of the sort.
func randomMergeInput(rng *rand.Rand) (*Trace, [][]LogRecord) {
	ids := []string{"", "a", "b", "c", "d", "e", "f", "g", "h"}
	services := []string{"", "s1", "s2", "s3"}
	tiers := []string{"", TierProxy, TierGo, TierRails, TierMySQL, TierRedis}
	traces := []string{"", tid, tid, "other"}
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }

	var tr *Trace
	if rng.IntN(8) > 0 {
		tr = &Trace{TraceID: pick(traces[:2])}
		for range rng.IntN(24) {
			start := int64(rng.IntN(12)) * 500_000
			tr.Spans = append(tr.Spans, Span{TraceID: tid, SpanID: pick(ids[1:]), ParentSpanID: pick(ids),
				Service: pick(services), Tier: pick(tiers), StartNs: start, EndNs: start + int64(rng.IntN(14)-2)*500_000,
				StatusCode: int64(rng.IntN(3))})
		}
	}
	bodies := []string{"x", " x", "x\n", `"x"`, `" x "`, "x y", "x  y", "x\ty", `"x y"`, "y", `"\"y\""`, "z"}
	severities := []string{SeverityInfo, SeverityError, SeverityCritical, SeverityUnknown, ""}
	size := 40
	if rng.IntN(6) == 0 {
		size = 400
	}
	sets := make([][]LogRecord, 1+rng.IntN(4))
	for s := range sets {
		source := fmt.Sprintf("kafka:t%d", s)
		if s == 0 {
			source = SourceLoki
		}
		set := make([]LogRecord, rng.IntN(size+1))
		for i := range set {
			src := source
			switch rng.IntN(10) {
			case 0:
				src = "kafka:redelivered"
			case 1:
				src = SourceLoki
			}
			set[i] = LogRecord{TimeNs: int64(rng.IntN(16)-2)*400_000 + int64(rng.IntN(3)), Body: pick(bodies),
				Severity: pick(severities), TraceID: pick(traces), SpanID: pick(ids), Service: pick(services),
				Source: src, ID: fmt.Sprint(s, "/", i)}
		}
		byTime := func(a, b LogRecord) int { return cmp.Compare(a.TimeNs, b.TimeNs) }
		switch rng.IntN(3) {
		case 0:
			slices.SortStableFunc(set, byTime)
		case 1: // a few ordered runs, as from several streams or partitions
			for lo := 0; lo < len(set); {
				hi := min(len(set), lo+1+rng.IntN(len(set)/2+1))
				slices.SortStableFunc(set[lo:hi], byTime)
				lo = hi
			}
		}
		sets[s] = set
	}
	return tr, sets
}

func cloneSets(sets [][]LogRecord) [][]LogRecord {
	out := make([][]LogRecord, len(sets))
	for i, s := range sets {
		out[i] = slices.Clone(s)
	}
	return out
}

func TestMergeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 3000 {
		tr, sets := randomMergeInput(rng)
		before := cloneSets(sets)
		got := Merge(tr, sets...)
		require.Equal(t, before, sets, "case %d: inputs modified", n)
		want := referenceMerge(tr, sets...)
		require.Equal(t, want, got, "case %d", n)
		checkModel(t, got, len(got.Spans))
	}
}

// TestDedupLogsHashCollisions keeps 2 bits of the line hash, so nearly every
// lookup collides and the exact-key confirmation and overflow map decide.
func TestDedupLogsHashCollisions(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 1000 {
		_, sets := randomMergeInput(rng)
		traceID := []string{"", tid}[n%2]
		require.Equal(t, referenceDedup(traceID, sets), dedupLogsMasked(traceID, sets, 3), "case %d", n)
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
