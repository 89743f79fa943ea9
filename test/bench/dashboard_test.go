package bench

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/traceweave/traceweave/internal/harness"
)

// dashboardPath is the provisioned incident dashboard, opened as Grafana does.
var dashboardPath = filepath.Join("..", "..", "provisioning", "dashboards", "incident-investigation.json")

var (
	fetchCountOnce sync.Once
	kafkaFetches   atomic.Int64
)

// countFetches makes the world's cluster count the Fetch requests it answers.
func (w *world) countFetches() *atomic.Int64 {
	fetchCountOnce.Do(func() {
		w.cluster.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
			w.cluster.KeepControl()
			kafkaFetches.Add(1)
			return nil, nil, false
		})
	})
	return &kafkaFetches
}

// asked is what the upstreams were asked: Tempo and Loki requests, Kafka
// Fetch requests.
type asked struct{ tempo, loki, fetches int64 }

func (w *world) asked() asked {
	return asked{w.tempo.requests.Load(), w.loki.requests.Load(), w.countFetches().Load()}
}

func (a asked) minus(b asked) asked {
	return asked{a.tempo - b.tempo, a.loki - b.loki, a.fetches - b.fetches}
}

// copyBinary copies the plugin binary to a file of its own, so that the
// child processes of several harness.StartPath calls can be told apart by
// their executable (childRSS).
func copyBinary(tb testing.TB, bin, name string) string {
	tb.Helper()
	raw, err := os.ReadFile(bin)
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, raw, 0o755); err != nil {
		tb.Fatal(err)
	}
	return p
}

// readDashboard is the provisioned incident dashboard's JSON.
func readDashboard(tb testing.TB) []byte {
	tb.Helper()
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// dashboardPanels reads the panels of the incident dashboard that show the
// trace, with traceId = tc's trace and the archive hour as its time range.
func dashboardPanels(tb testing.TB, tc *traceCase) []harness.PanelQuery {
	tb.Helper()
	panels, err := harness.DashboardPanels(readDashboard(tb), map[string]string{"traceId": tc.traceID}, archiveStart, archiveStart.Add(archiveSpan))
	if err != nil {
		tb.Fatal(err)
	}
	// The search panel starts from a TraceQL search, not the trace: the
	// whole dashboard is BenchmarkDashboardOpenWithSearch.
	if panels = harness.TracePanels(panels); len(panels) != 5 {
		tb.Fatalf("the dashboard has %d Traceweave panels of the trace, want 5", len(panels))
	}
	return panels
}

// panelsAnswered fails unless every panel got an answer without a transport
// error, and returns the bytes of all frames.
func panelsAnswered(tb testing.TB, answers []harness.PanelAnswer) int {
	tb.Helper()
	n := 0
	for _, a := range answers {
		if a.Err != nil {
			tb.Fatalf("panel %q: %v", a.Panel.Title, a.Err)
		}
		for ref, r := range a.Response.Responses {
			if r.Error != "" {
				tb.Fatalf("panel %q %s: %s", a.Panel.Title, ref, r.Error)
			}
		}
		n += a.Bytes()
	}
	return n
}

// BenchmarkDashboardOpen opens the provisioned incident dashboard through the
// built binary as Grafana does (its JSON read, ${traceId} interpolated, one
// QueryData call per Traceweave panel, all at once) on a fresh datasource
// instance, and in the same iteration runs ONE timeline query of the same
// trace on another fresh instance, in another plugin process; each instance
// is first warmed by a query of another trace (connections, Kafka metadata),
// as in Grafana. Reported, dashboard over one query: Tempo and Loki requests
// and Kafka Fetch requests (goal 1.00), answer bytes (goal <= 1.5); each wall
// time over the critical path T_tempo + max(T_loki, T_kafka) timed alone in
// the same iteration (goal <= 1.3 at 1k lines); and each process's peak RSS.
func BenchmarkDashboardOpen(b *testing.B) {
	w := getWorld(b)
	bin := harness.Binary(b)
	warmCase := w.cases[caseName(10, 0)]
	for _, c := range []struct{ spans, logs int }{{1_000, 1_000}, {1_000, 100_000}} {
		tc := w.cases[caseName(c.spans, c.logs)]
		b.Run(tc.name, func(b *testing.B) {
			oneBin, dashBin := copyBinary(b, bin, "gpx_one"), copyBinary(b, bin, "gpx_dashboard")
			one, dash := harness.StartPath(b, oneBin), harness.StartPath(b, dashBin)
			ctx := benchCtx(b)
			panels := dashboardPanels(b, tc)
			q := harness.Query("A", queryModel(tc), archiveStart, archiveStart.Add(archiveSpan))
			warm := harness.Query("A", queryModel(warmCase), archiveStart, archiveStart.Add(archiveSpan))
			so := newSolo(b, w)
			var (
				oneWall, dashWall, ideal time.Duration
				oneAsked, dashAsked      asked
				oneBytes, dashBytes      int
			)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				// Fresh instances: a new Updated time is a new instance in
				// the plugin's instance manager, as after a settings change.
				sOne := harness.Settings{UID: "traceweave-bench", Name: "Traceweave", JSONData: w.dashboardSettingsJSON(), Updated: time.Unix(int64(10+2*i), 0)}
				sDash := sOne
				sDash.Updated = sDash.Updated.Add(time.Second)
				for _, p := range []struct {
					p *harness.Plugin
					s harness.Settings
				}{{one, sOne}, {dash, sDash}} {
					if _, err := p.p.QueryDataProto(ctx, p.s, warm); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()

				a0 := w.asked()
				t0 := time.Now()
				raw, err := one.QueryDataProto(ctx, sOne, q)
				oneWall += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				a1 := w.asked()
				t0 = time.Now()
				answers := dash.OpenDashboard(ctx, sDash, panels)
				dashWall += time.Since(t0)
				a2 := w.asked()

				b.StopTimer()
				oneAsked, dashAsked = a1.minus(a0), a2.minus(a1)
				resp, err := backend.FromProto().QueryDataResponse(raw)
				if err != nil {
					b.Fatal(err)
				}
				checkResponse(b, resp, tc)
				oneBytes = 0
				for _, f := range raw.Responses["A"].Frames {
					oneBytes += len(f)
				}
				dashBytes = panelsAnswered(b, answers)
				t, _ := so.run(b, ctx, tc)
				ideal += t.ideal()
				b.StartTimer()
			}
			b.StopTimer()
			nf := float64(b.N)
			ratio := func(a, b int64) float64 { return float64(a) / float64(max(b, 1)) }
			b.ReportMetric(ratio(dashAsked.tempo, oneAsked.tempo), "tempo-req-x")
			b.ReportMetric(ratio(dashAsked.loki, oneAsked.loki), "loki-req-x")
			b.ReportMetric(ratio(dashAsked.fetches, oneAsked.fetches), "kafka-fetch-x")
			b.ReportMetric(float64(dashBytes)/float64(oneBytes), "answer-x")
			b.ReportMetric(float64(oneBytes)/mb, "one-answer-MB")
			b.ReportMetric(oneWall.Seconds()*1e3/nf, "one-ms")
			b.ReportMetric(dashWall.Seconds()*1e3/nf, "dash-ms")
			b.ReportMetric(float64(oneWall)/float64(ideal), "one-ratio")
			b.ReportMetric(float64(dashWall)/float64(ideal), "dash-ratio")
			for _, p := range []struct{ bin, unit string }{{oneBin, "one-peak-RSS-MB"}, {dashBin, "dash-peak-RSS-MB"}} {
				peak, _, err := childRSS(p.bin)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(peak)/mb, p.unit)
			}
			if err := w.errs.take(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// memoryLimitTestLimit is the plugin's memory_limit in
// TestDashboardsUnderMemoryLimit, and memoryLimitTestCeiling the peak RSS
// the test allows. Measured on the 2-core machine (BENCHMARKS.md, run F):
// 579–648 MB with the admission of answers, 974–1027 MB without it (every
// answer built and encoded at once), 705–782 MB when reservations ended at
// the handler's return instead of when the SDK had encoded the answer. The
// ceiling sits between the first and the second so that a loaded CI machine
// does not fail the shipped admission, while losing the admission fails.
const (
	memoryLimitTestLimit   = "512MiB"
	memoryLimitTestCeiling = 850 << 20
)

// TestDashboardsUnderMemoryLimit opens four incident dashboards of 100k-line
// traces at once (three traces on one datasource, one on another: sharing
// never crosses instances, so these are four engine runs and twenty panel
// answers) in a plugin started with memory_limit, as Grafana starts it. The
// process must live, every panel must get its frame or a clear error, and
// the peak RSS must stay under memoryLimitTestCeiling: without admission of
// answers by size the twenty answers are built and encoded at once.
func TestDashboardsUnderMemoryLimit(t *testing.T) {
	w := getWorld(t)
	t.Setenv("GF_PLUGIN_MEMORY_LIMIT", memoryLimitTestLimit)
	bin := copyBinary(t, harness.Binary(t), "gpx_memory_limit")
	p := harness.StartPath(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	type open struct {
		s  harness.Settings
		tc *traceCase
	}
	a := harness.Settings{UID: "traceweave-a", Name: "Traceweave A", JSONData: w.dashboardSettingsJSON()}
	bs := harness.Settings{UID: "traceweave-b", Name: "Traceweave B", JSONData: w.dashboardSettingsJSON()}
	opens := []open{
		{a, w.cases[caseName(10, 100_000)]}, {a, w.cases[caseName(1_000, 100_000)]},
		{a, w.cases[caseName(10_000, 100_000)]}, {bs, w.cases[caseName(1_000, 100_000)]},
	}
	var wg sync.WaitGroup
	answers := make([][]harness.PanelAnswer, len(opens))
	for i, o := range opens {
		wg.Go(func() { answers[i] = p.OpenDashboard(ctx, o.s, dashboardPanels(t, o.tc)) })
	}
	wg.Wait()
	for i, as := range answers {
		for _, a := range as {
			if a.Err != nil {
				t.Fatalf("dashboard %d panel %q: the plugin did not answer: %v\n%s", i, a.Panel.Title, a.Err, p.Logs())
			}
			resp, err := backend.FromProto().QueryDataResponse(a.Response)
			if err != nil {
				t.Fatal(err)
			}
			r := resp.Responses["A"]
			if r.Error != nil {
				// An error is acceptable only if it tells the user why.
				if r.Error.Error() == "" {
					t.Errorf("dashboard %d panel %q: empty error", i, a.Panel.Title)
				}
				continue
			}
			if len(r.Frames) != 1 {
				t.Errorf("dashboard %d panel %q: %d frames, want 1", i, a.Panel.Title, len(r.Frames))
			}
		}
	}
	small := harness.Query("A", queryModel(w.cases[caseName(10, 0)]), archiveStart, archiveStart.Add(archiveSpan))
	if _, err := p.QueryDataProto(ctx, a, small); err != nil {
		t.Fatalf("the plugin process did not survive: %v\n%s", err, p.Logs())
	}
	peak, _, err := childRSS(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("peak RSS %.0f MB with memory_limit=%s", float64(peak)/mb, memoryLimitTestLimit)
	if peak > memoryLimitTestCeiling {
		t.Errorf("peak RSS %.0f MB, want at most %.0f MB under memory_limit=%s", float64(peak)/mb, float64(memoryLimitTestCeiling)/mb, memoryLimitTestLimit)
	}
	if err := w.errs.take(); err != nil {
		t.Fatal(err)
	}
}
