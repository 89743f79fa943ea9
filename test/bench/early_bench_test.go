package bench

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/traceweave/traceweave/pkg/plugin"
)

// BenchmarkEarlyStartQueryData runs the whole query in process (as
// BenchmarkQueryData does) for the 1k-span trace with 1k and 100k log lines,
// with two dashboard time ranges:
//
//   - short: 5 minutes around the trace, which holds its log window; the
//     engine asks Loki over that range while Tempo answers (pkg/engine);
//   - long: the archive hour; Loki waits for Tempo's window, the flow
//     before the early start, so long against short in one run is the
//     before/after of the change.
//
// Each iteration also times Tempo, Loki and Kafka alone (timer stopped) and
// reports ratio = Σ wall / Σ (T_tempo + max(T_loki, T_kafka)): below 1 the
// query beats the sequential bound that the early start removes. The fake
// Loki's cost does not grow with the range, which flatters the short range;
// the engine starts early only for ranges at most 2 × (window.before +
// window.after) for that reason.
func BenchmarkEarlyStartQueryData(b *testing.B) {
	w := getWorld(b)
	for _, n := range []int{1_000, 100_000} {
		tc := w.cases[caseName(1_000, n)]
		for _, r := range []struct {
			name     string
			from, to time.Time
		}{
			{"short", tc.start.Add(-150 * time.Second), tc.start.Add(150 * time.Second)},
			{"long", archiveStart, archiveStart.Add(archiveSpan)},
		} {
			b.Run(tc.name+"/range="+r.name, func(b *testing.B) {
				lo, hi := tc.window()
				if r.from.After(lo) || r.to.Before(hi) {
					b.Fatalf("range [%v, %v] does not hold the window [%v, %v]", r.from, r.to, lo, hi)
				}
				ds := newDatasource(b, w)
				so := newSolo(b, w)
				ctx := benchCtx(b)
				req := rangeRequest(tc, r.from, r.to)
				var (
					tally    ratioTally
					lokiReqs int64
				)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					lokiBefore := w.loki.requests.Load()
					b.StartTimer()
					t0 := time.Now()
					resp, err := ds.QueryData(ctx, req)
					d := time.Since(t0)
					b.StopTimer()
					lokiReqs += w.loki.requests.Load() - lokiBefore
					if err != nil {
						b.Fatal(err)
					}
					checkResponse(b, resp, tc)
					t, _ := so.run(b, ctx, tc)
					tally.add(d, t)
					b.StartTimer()
				}
				b.StopTimer()
				if err := w.errs.take(); err != nil {
					b.Fatal(err)
				}
				nf := float64(b.N)
				b.ReportMetric(tally.wall.Seconds()*1e3/nf, "ms/op")
				tally.report(b)
				// Loki requests of the query alone (the solo run's are not counted).
				b.ReportMetric(float64(lokiReqs)/nf, "loki-requests")
			})
		}
	}
}

// rangeRequest is the QueryData request for the trace with the dashboard
// time range [from, to].
func rangeRequest(tc *traceCase, from, to time.Time) *backend.QueryDataRequest {
	raw, _ := json.Marshal(queryModel(tc))
	return &backend.QueryDataRequest{
		PluginContext: backend.PluginContext{OrgID: 1, PluginID: plugin.PluginID},
		Queries: []backend.DataQuery{{
			RefID: "A", QueryType: "timeline", JSON: raw,
			TimeRange: backend.TimeRange{From: from, To: to},
		}},
	}
}

// BenchmarkLokiParallel compares, in one run, the whole query with Loki read
// page after page (loki.parallelQueries = 1) and with the default parallel
// slots, for the traces with 100k lines (eleven 5,000-line Loki pages). It
// reports both walls and their ratio (parallel ÷ page by page), and Loki's
// requests per query each way.
func BenchmarkLokiParallel(b *testing.B) {
	w := getWorld(b)
	for _, s := range []int{1_000, 10_000} {
		tc := w.cases[caseName(s, 100_000)]
		b.Run(tc.name, func(b *testing.B) {
			seq := newDatasourceWith(b, w.settingsJSONWith(1))
			par := newDatasource(b, w)
			ctx := benchCtx(b)
			req := queryRequest(tc)
			var wallSeq, wallPar time.Duration
			var pagesSeq, pagesPar int64
			run := func(ds interface {
				QueryData(context.Context, *backend.QueryDataRequest) (*backend.QueryDataResponse, error)
			}, wall *time.Duration, pages *int64) {
				before := w.loki.requests.Load()
				t0 := time.Now()
				resp, err := ds.QueryData(ctx, req)
				*wall += time.Since(t0)
				*pages += w.loki.requests.Load() - before
				if err != nil {
					b.Fatal(err)
				}
				checkResponse(b, resp, tc)
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				run(seq, &wallSeq, &pagesSeq)
				run(par, &wallPar, &pagesPar)
			}
			if err := w.errs.take(); err != nil {
				b.Fatal(err)
			}
			nf := float64(b.N)
			b.ReportMetric(wallSeq.Seconds()*1e3/nf, "page-by-page-ms")
			b.ReportMetric(wallPar.Seconds()*1e3/nf, "parallel-ms")
			b.ReportMetric(wallPar.Seconds()/wallSeq.Seconds(), "parallel/page-by-page")
			b.ReportMetric(float64(pagesSeq)/nf, "pages-page-by-page")
			b.ReportMetric(float64(pagesPar)/nf, "pages-parallel")
		})
	}
}
