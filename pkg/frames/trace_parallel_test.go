package frames

import (
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// unevenTraceModel is benchModel's trace with its lines reattached
// unevenly: a third of them to one span, the rest skewed towards the first
// spans (most spans get none), plus spans without an ID holding lines (left
// out of the frame) and a span with out-of-range indexes.
func unevenTraceModel() *timeline.Model {
	m := benchModel(300, 8_000, true)
	spans := make([]timeline.SpanNode, len(m.Spans))
	copy(spans, m.Spans)
	for i := range spans {
		spans[i].Logs = nil
	}
	rng := rand.New(rand.NewPCG(3, 2026))
	for idx := range m.Logs {
		sp := 17
		if idx%3 != 0 {
			u := rng.Float64()
			sp = int(float64(len(spans)) * u * u * u)
		}
		spans[sp].Logs = append(spans[sp].Logs, idx)
	}
	for _, i := range []int{0, 5, 150} {
		spans[i].SpanID = "" // not in the frame, whatever it holds
	}
	spans[40].Logs = append(spans[40].Logs, -1, len(m.Logs))
	spans[41].Events = append(spans[41].Events, timeline.SpanEvent{TimeNs: spans[41].StartNs, Name: "late"})
	out := *m
	out.Spans = spans
	return &out
}

func frameJSON(t *testing.T, f *data.Frame) string {
	t.Helper()
	b, err := json.Marshal(f)
	require.NoError(t, err)
	return string(b)
}

// TestTraceParallelEqualsSerial builds trace frames with 1 to 16 workers,
// in parallel from the first entry or only past parallelSpanLogsMin, and
// requires each to be byte for byte (frame JSON) the serial reference's
// (traceRef, the build before, with strconv timestamps), on an uneven
// generated model and on small ones.
func TestTraceParallelEqualsSerial(t *testing.T) {
	models := map[string]*timeline.Model{
		"uneven":  unevenTraceModel(),
		"bench":   benchModel(100, 3_000, true),
		"golden":  traceModel(t),
		"nil":     nil,
		"no logs": {TraceID: traceTestID, Spans: []timeline.SpanNode{{Span: timeline.Span{SpanID: "0000000000000001"}}, {Span: timeline.Span{Name: "no id"}}}},
		"one log": {TraceID: traceTestID, Spans: []timeline.SpanNode{{Span: timeline.Span{Name: "no id"}, Logs: []int{0}}, {Span: timeline.Span{SpanID: "0000000000000001"}, Logs: []int{0}}},
			Logs: []timeline.Log{{LogRecord: &timeline.LogRecord{TimeNs: 1, Body: "x"}}}},
	}
	opts := traceOptions()
	for name, m := range models {
		want := frameJSON(t, traceRef(m, opts))
		require.Equal(t, want, frameJSON(t, Trace(m, opts)), name)
		for _, workers := range []int{1, 2, 3, 5, 16} {
			for _, minParallel := range []int{0, parallelSpanLogsMin} {
				require.Equal(t, want, frameJSON(t, traceFrame(m, opts, workers, minParallel)), "%s, %d workers from %d entries", name, workers, minParallel)
			}
		}
	}
}

// TestSpanLogChunks checks the chunks cover the spans in order, each row
// once, and that the uneven model's work is balanced as well as whole
// spans allow.
func TestSpanLogChunks(t *testing.T) {
	m := unevenTraceModel()
	rows, total, heaviest := 0, 0, 0
	for i := range m.Spans {
		if s := &m.Spans[i]; s.SpanID != "" {
			rows++
			w := len(s.Events) + len(s.Logs)
			total += w
			heaviest = max(heaviest, w)
		}
	}
	require.Len(t, spanLogChunks(m.Spans, rows, 4, total+1, 0), 1, "below minParallel: one chunk")
	require.Len(t, spanLogChunks(m.Spans, rows, 1, 0, 0), 1)
	for workers := 2; workers <= 16; workers++ {
		chunks := spanLogChunks(m.Spans, rows, workers, 0, 0)
		require.LessOrEqual(t, len(chunks), workers)
		next, row := 0, 0
		for j, c := range chunks {
			require.Equal(t, next, c.spanLo, "chunk %d starts where the last ended", j)
			require.Equal(t, row, c.rowLo, "chunk %d", j)
			work := 0
			for i := c.spanLo; i < c.spanHi; i++ {
				if s := &m.Spans[i]; s.SpanID != "" {
					row++
					work += len(s.Events) + len(s.Logs)
				}
			}
			if j == 0 {
				work += rows // the other cells
			}
			require.LessOrEqual(t, work, (total+rows)/workers+heaviest+1, "%d workers, chunk %d", workers, j)
			next = c.spanHi
		}
		require.Equal(t, len(m.Spans), next)
		require.Equal(t, rows, row)
	}
}

// BenchmarkTrace100kWorkers builds the 1k-span / 100k-line trace frame on
// one goroutine (serial: the CPU time of the frame) and with GOMAXPROCS
// workers (Trace: its wall time), in one run.
func BenchmarkTrace100kWorkers(b *testing.B) {
	opts := frames100kOptions
	m := cachedBenchModel(1_000, 100_000, true)
	for _, c := range []struct {
		name    string
		workers int
	}{{"serial", 1}, {"gomaxprocs", runtime.GOMAXPROCS(0)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = traceFrame(m, opts, c.workers, parallelSpanLogsMin)
			}
		})
	}
}
