package bench

import (
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/traceweave/traceweave/internal/harness"
)

// wholeDashboardPanels reads every Traceweave panel of the incident
// dashboard, the search panel with the panels of tc's trace.
func wholeDashboardPanels(tb testing.TB, tc *traceCase) []harness.PanelQuery {
	tb.Helper()
	panels, err := harness.DashboardPanels(readDashboard(tb), map[string]string{"traceId": tc.traceID}, archiveStart, archiveStart.Add(archiveSpan))
	if err != nil {
		tb.Fatal(err)
	}
	if len(panels) != 6 || len(harness.TracePanels(panels)) != 5 {
		tb.Fatalf("the dashboard has %d Traceweave panels, want the search and 5 of the trace", len(panels))
	}
	return panels
}

// BenchmarkDashboardOpenWithSearch opens the whole incident dashboard as a
// user does, through the built binary: the five panels of ${traceId} and
// the "Recent error traces" search panel, one QueryData call each, all at
// once, on a fresh datasource instance. The search ({ status = error }
// over the archive hour) finds the world's six traces with error spans
// (1k and 10k spans, 0, 1k and 100k lines), among them the opened trace
// (1k spans, 1k lines). In the same iteration, after the open, in another
// plugin process, the parts run one after the other on fresh instances of
// their own: one timeline query of the trace, then the search alone. Reported: the
// upstream requests of the open over those of the parts (goal 1.00: the
// trace panels share one run and the search is one more), the wall times,
// and the open's wall over the slower part (the two run concurrently; the
// goal is ≤ 1.3, what a single query costs over its critical path), and
// when the trace's five panels were filled inside the open, against the
// trace query alone (the search must not hold them back).
func BenchmarkDashboardOpenWithSearch(b *testing.B) {
	w := getWorld(b)
	bin := harness.Binary(b)
	warmCase := w.cases[caseName(10, 0)]
	tc := w.cases[caseName(1_000, 1_000)]
	from, to := archiveStart, archiveStart.Add(archiveSpan)
	b.Run(tc.name, func(b *testing.B) {
		partsBin, wholeBin := copyBinary(b, bin, "gpx_parts"), copyBinary(b, bin, "gpx_whole")
		parts, whole := harness.StartPath(b, partsBin), harness.StartPath(b, wholeBin)
		ctx := benchCtx(b)
		panels := wholeDashboardPanels(b, tc)
		q := harness.Query("A", queryModel(tc), from, to)
		sq := harness.Query("A", map[string]any{"queryType": "search", "traceql": errorSearch}, from, to)
		warm := harness.Query("A", queryModel(warmCase), from, to)
		var (
			traceWall, searchWall, wholeWall time.Duration
			// tracePanels is when the last panel of the trace was answered
			// inside the whole open: what the search costs the trace's view.
			tracePanels            time.Duration
			partsAsked, wholeAsked asked
			found                  int
		)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			fresh := func(n int) harness.Settings {
				return harness.Settings{UID: "traceweave-bench", Name: "Traceweave", JSONData: w.dashboardSettingsJSON(), Updated: time.Unix(int64(1000+3*i+n), 0)}
			}
			sTrace, sSearch, sWhole := fresh(0), fresh(1), fresh(2)
			for _, p := range []struct {
				p *harness.Plugin
				s harness.Settings
			}{{parts, sTrace}, {parts, sSearch}, {whole, sWhole}} {
				if _, err := p.p.QueryDataProto(ctx, p.s, warm); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()

			// The open first, right after the warm-up queries, as a user
			// opens it; then the parts.
			a0 := w.asked()
			t0 := time.Now()
			answers := whole.OpenDashboard(ctx, sWhole, panels)
			wholeWall += time.Since(t0)
			a1 := w.asked()
			t0 = time.Now()
			raw, err := parts.QueryDataProto(ctx, sTrace, q)
			traceWall += time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			t0 = time.Now()
			sraw, err := parts.QueryDataProto(ctx, sSearch, sq)
			searchWall += time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			a2 := w.asked()

			b.StopTimer()
			wholeAsked, partsAsked = a1.minus(a0), a2.minus(a1)
			resp, err := backend.FromProto().QueryDataResponse(raw)
			if err != nil {
				b.Fatal(err)
			}
			checkResponse(b, resp, tc)
			sresp, err := backend.FromProto().QueryDataResponse(sraw)
			if err != nil {
				b.Fatal(err)
			}
			sr := sresp.Responses["A"]
			if sr.Error != nil || len(sr.Frames) != 1 {
				b.Fatalf("search: %v, %d frames", sr.Error, len(sr.Frames))
			}
			found = sr.Frames[0].Rows()
			panelsAnswered(b, answers)
			var last time.Duration
			for _, a := range harness.TracePanelAnswers(answers) {
				last = max(last, a.Elapsed)
			}
			tracePanels += last
			b.StartTimer()
		}
		b.StopTimer()
		nf := float64(b.N)
		ratio := func(a, b int64) float64 { return float64(a) / float64(max(b, 1)) }
		b.ReportMetric(float64(found), "traces-found")
		b.ReportMetric(ratio(wholeAsked.tempo, partsAsked.tempo), "tempo-req-x")
		b.ReportMetric(ratio(wholeAsked.loki, partsAsked.loki), "loki-req-x")
		b.ReportMetric(ratio(wholeAsked.fetches, partsAsked.fetches), "kafka-fetch-x")
		b.ReportMetric(traceWall.Seconds()*1e3/nf, "trace-ms")
		b.ReportMetric(searchWall.Seconds()*1e3/nf, "search-ms")
		b.ReportMetric(wholeWall.Seconds()*1e3/nf, "whole-ms")
		b.ReportMetric(tracePanels.Seconds()*1e3/nf, "whole-trace-panels-ms")
		b.ReportMetric(float64(wholeWall)/float64(max(traceWall, searchWall)), "whole-ratio")
		peak, _, err := childRSS(wholeBin)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(peak)/mb, "whole-peak-RSS-MB")
		if err := w.errs.take(); err != nil {
			b.Fatal(err)
		}
	})
}
