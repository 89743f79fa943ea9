package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/traceweave/traceweave/internal/harness"
)

// upstreamCounts is what one query or one dashboard open asked the upstreams.
type upstreamCounts struct {
	tempo, loki, kafkaFetches int64
}

// countKafkaFetches counts the Fetch requests the cluster answers.
func countKafkaFetches(s *scenario) *atomic.Int64 {
	var n atomic.Int64
	s.kafka.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		s.kafka.KeepControl()
		n.Add(1)
		return nil, nil, false
	})
	return &n
}

func (s *scenario) counts(fetches *atomic.Int64) upstreamCounts {
	return upstreamCounts{int64(len(s.tempo.requested())), int64(len(s.loki.requests())), fetches.Load()}
}

func (c upstreamCounts) minus(o upstreamCounts) upstreamCounts {
	return upstreamCounts{c.tempo - o.tempo, c.loki - o.loki, c.kafkaFetches - o.kafkaFetches}
}

// withoutNotices drops the frames' notices, which differ by which frame of
// an answer comes first, to compare the frames themselves.
func withoutNotices(t *testing.T, f *data.Frame) string {
	t.Helper()
	if f.Meta != nil {
		f.Meta.Notices = nil
	}
	b, err := json.Marshal(f)
	require.NoError(t, err)
	return string(b)
}

// framesOfPanels is the frame each visualization of the provisioned
// dashboard's trace panels selects.
var framesOfPanels = map[string]string{"traces": "trace", "logs": "logs", "table": "timeline", "stat": "firstError", "bargauge": "summary"}

// provisionedPanels reads the provisioned incident dashboard's Traceweave
// panels (six: the search and five of the trace), traceId set to trace.
func provisionedPanels(t *testing.T, trace string, from, to time.Time) []harness.PanelQuery {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "provisioning", "dashboards", "incident-investigation.json"))
	require.NoError(t, err)
	panels, err := harness.DashboardPanels(raw, map[string]string{"traceId": trace}, from, to)
	require.NoError(t, err)
	require.Len(t, panels, 6, "the dashboard's Traceweave panels")
	return panels
}

// panelFrame is the one frame of a panel's answer, which must carry no error.
func panelFrame(t *testing.T, a harness.PanelAnswer) *data.Frame {
	t.Helper()
	require.NoError(t, a.Err, a.Panel.Title)
	resp, err := backend.FromProto().QueryDataResponse(a.Response)
	require.NoError(t, err)
	r := resp.Responses["A"]
	require.NoError(t, r.Error, a.Panel.Title)
	require.Len(t, r.Frames, 1, "panel %q gets one frame", a.Panel.Title)
	return r.Frames[0]
}

// TestDashboardOpenIsOneRun opens the provisioned incident dashboard through
// the built binary as Grafana does (one QueryData call per panel, all at
// once, the dashboard's variables interpolated) on a fresh datasource
// instance, and compares what the upstreams were asked with one timeline
// query of the same trace on another fresh instance: the panels share one
// engine run, and each panel gets exactly the frame its visualization reads,
// equal to that frame of the single query.
func TestDashboardOpenIsOneRun(t *testing.T) {
	s := newScenario(t, tempoServe)
	fetches := countKafkaFetches(s)
	p := harness.Start(t)
	from, to := queryRange()

	// Two instances of one datasource (Grafana builds a new instance when
	// the settings' Updated time changes), so the frames' links are equal.
	single := s.settings()
	single.Updated = time.Unix(100, 0)
	before := s.counts(fetches)
	one := runQuery(t, p, single, map[string]any{"queryType": "timeline", "traceId": scenarioTrace}, from, to)
	require.NoError(t, one.Error)
	oneQuery := s.counts(fetches).minus(before)
	require.Equal(t, int64(1), oneQuery.tempo)
	require.Positive(t, oneQuery.loki)
	require.Positive(t, oneQuery.kafkaFetches)

	panels := harness.TracePanels(provisionedPanels(t, scenarioTrace, from, to))
	require.Len(t, panels, 5, "the panels of the trace: all but the search")

	dash := s.settings()
	dash.Updated = time.Unix(200, 0)
	before = s.counts(fetches)
	answers := p.OpenDashboard(ctxT(t), dash, panels)
	opened := s.counts(fetches).minus(before)
	assert.Equal(t, oneQuery, opened, "opening the dashboard asks the upstreams what one query asks")

	for _, a := range answers {
		f := panelFrame(t, a)
		assert.Equal(t, framesOfPanels[a.Panel.Type], f.Name, "panel %q (%s)", a.Panel.Title, a.Panel.Type)
		switch a.Panel.Type {
		case "traces":
			require.NotNil(t, f.Meta)
			assert.Equal(t, data.VisTypeTrace, string(f.Meta.PreferredVisualization))
		case "logs":
			require.NotNil(t, f.Meta)
			assert.Equal(t, data.VisTypeLogs, string(f.Meta.PreferredVisualization))
		case "stat":
			n, err := f.RowLen()
			require.NoError(t, err)
			assert.Equal(t, 1, n, "the scenario's trace has an error: one first-error row")
			continue
		}
		assert.Equal(t, withoutNotices(t, frameByName(t, one.Frames, f.Name)), withoutNotices(t, f),
			"panel %q: the shared run gives the frame the single query gives", a.Panel.Title)
	}
}

// TestDashboardPanelsAnsweredFromAKeptRun: a panel that asks after the run
// of its dashboard finished (a lazily loaded panel, a second viewer) within
// cache.ttl is answered from the kept result; with cache.ttl "0s" it runs
// the engine again.
func TestDashboardPanelsAnsweredFromAKeptRun(t *testing.T) {
	s := newScenario(t, tempoServe)
	p := harness.Start(t)
	from, to := queryRange()
	model := map[string]any{"queryType": "timeline", "traceId": scenarioTrace, "frames": []string{"summary"}}
	for _, c := range []struct {
		name      string
		ttl       any
		wantTempo int
	}{{"kept for an hour", "1h", 1}, {"ttl off", "0s", 2}} {
		t.Run(c.name, func(t *testing.T) {
			set := s.settings()
			set.UID = "kept-" + c.name
			jd := set.JSONData.(map[string]any)
			if c.ttl != nil {
				jd["cache"] = map[string]any{"ttl": c.ttl}
			}
			before := len(s.tempo.requested())
			var second backend.DataResponse
			for range 2 {
				second = runQuery(t, p, set, model, from, to)
				require.NoError(t, second.Error)
				require.Len(t, second.Frames, 1)
			}
			assert.Equal(t, c.wantTempo, len(s.tempo.requested())-before)
			kept := hasNotice(second.Frames[0], "answered from this trace's fetch of", "cache.ttl")
			assert.Equal(t, c.wantTempo == 1, kept, "a kept answer says how old it is, a fresh one does not")
		})
	}
}
