package bench

import (
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/traceweave/traceweave/pkg/frames"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/tempo"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// stageInputs fetches what the sources return for a trace (its spans with
// tiers assigned, Loki's lines and each Kafka topic's), the inputs of the
// merge, and the frame options the plugin would use.
func stageInputs(b *testing.B, w *world, cfg *models.Settings, tc *traceCase) (*tempo.Result, [][]timeline.LogRecord, frames.Options) {
	b.Helper()
	so := newSolo(b, w)
	ctx := benchCtx(b)
	lo, hi := tc.window()
	tr, err := so.tempo.TraceByID(ctx, tc.traceID, nil)
	if err != nil {
		b.Fatal(err)
	}
	timeline.AssignTiers(tr.Trace.Spans, cfg.Tiers)
	lr, err := so.loki.Query(ctx, tc.traceID, lo.UnixNano(), hi.UnixNano())
	if err != nil {
		b.Fatal(err)
	}
	sets := [][]timeline.LogRecord{lr.Records}
	for _, t := range so.kafka.Read(ctx, tc.traceID, kafkaWindow(tc)).Topics {
		sets = append(sets, t.Records)
	}
	return tr, sets, frames.Options{DatasourceUID: "traceweave-bench", DatasourceName: "Traceweave", LokiSelector: cfg.Loki.Selector}
}

// BenchmarkMergeAndFrames times, stage by stage, the serial work after the
// sources answered: the merge, each frame, and the Arrow encoding the SDK
// does before the frames cross gRPC to Grafana. The inputs are what the
// sources return for the trace, fetched once before the timer starts. It
// explains the part of BenchmarkQueryData's ratio above 1 and the size of
// the answer Grafana receives.
func BenchmarkMergeAndFrames(b *testing.B) {
	w := getWorld(b)
	cfg := w.settings(b)
	for _, c := range [][2]int{{1_000, 1_000}, {10_000, 1_000}, {10, 100_000}, {1_000, 100_000}, {10_000, 100_000}} {
		tc := w.cases[caseName(c[0], c[1])]
		b.Run(tc.name, func(b *testing.B) {
			tr, sets, opts := stageInputs(b, w, cfg, tc)
			var merge, trace, logs, tl, sum, arrow time.Duration
			var arrowBytes int
			stage := func(d *time.Duration, fn func()) {
				t0 := time.Now()
				fn()
				*d += time.Since(t0)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var m *timeline.Model
				var fs data.Frames
				stage(&merge, func() { m = timeline.Merge(&tr.Trace, sets...) })
				stage(&trace, func() { fs = append(fs, frames.Trace(m, opts)) })
				stage(&logs, func() { fs = append(fs, frames.Logs(m, opts)) })
				stage(&tl, func() { fs = append(fs, frames.Timeline(m, opts)) })
				stage(&sum, func() { fs = append(fs, frames.Summary(m)) })
				arrowBytes = 0
				stage(&arrow, func() {
					for _, f := range fs {
						raw, err := f.MarshalArrow()
						if err != nil {
							b.Fatal(err)
						}
						arrowBytes += len(raw)
					}
				})
				if len(m.Logs) != tc.logs || len(m.Spans) != tc.spans {
					b.Fatalf("merged %d logs, %d spans", len(m.Logs), len(m.Spans))
				}
			}
			b.StopTimer()
			ms := func(d time.Duration) float64 { return d.Seconds() * 1e3 / float64(b.N) }
			b.ReportMetric(ms(merge), "merge-ms")
			b.ReportMetric(ms(trace), "trace-frame-ms")
			b.ReportMetric(ms(logs), "logs-frame-ms")
			b.ReportMetric(ms(tl), "timeline-frame-ms")
			b.ReportMetric(ms(sum), "summary-frame-ms")
			b.ReportMetric(ms(arrow), "arrow-ms")
			b.ReportMetric(float64(arrowBytes)/mb, "arrow-MB")
		})
	}
}

// BenchmarkSDKArrowEncode times the SDK's Frame.MarshalArrow, frame by frame,
// on the 1k-span/100k-line answer: the step after QueryData returns that
// Grafana waits for and that sets the plugin's peak memory. Its B/op is what
// the SDK allocates to encode a frame (its Arrow builders and file buffer
// grow by doubling) against the frame's encoded size (SetBytes).
func BenchmarkSDKArrowEncode(b *testing.B) {
	w := getWorld(b)
	tr, sets, opts := stageInputs(b, w, w.settings(b), w.cases[caseName(1_000, 100_000)])
	m := timeline.Merge(&tr.Trace, sets...)
	for _, c := range []struct {
		name  string
		frame *data.Frame
	}{{"trace", frames.Trace(m, opts)}, {"logs", frames.Logs(m, opts)}, {"timeline", frames.Timeline(m, opts)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				raw, err := c.frame.MarshalArrow()
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(raw)))
			}
		})
	}
}
