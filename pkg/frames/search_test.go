package frames

import (
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// TestSearchFrame: one row per found trace with the figures of its merged
// model, and the search answer's own figures for a trace whose fetch failed.
func TestSearchFrame(t *testing.T) {
	m := recordedModel(t)
	require.NotNil(t, m.Summary.FirstError, "the recorded trace has an error")
	found := []timeline.FoundTrace{
		{TraceID: m.TraceID, RootService: "go-proxy", RootName: "GET /api/orders", StartNs: m.StartNs, DurationNs: m.EndNs - m.StartNs, Model: m},
		{TraceID: "000000000000000000000000000000ab", RootService: "rails-api", RootName: "POST /orders", StartNs: 1795710089000000000,
			DurationNs: 3 * int64(time.Millisecond), SearchSpans: 7, SearchErrors: 2, Model: &timeline.Model{TraceID: "000000000000000000000000000000ab"}},
	}
	sources := []string{timeline.SourceLoki, timeline.KafkaSource("otlp_logs"), timeline.KafkaSource("absent")}
	f := Search(found, sources, traceOptions())
	assert.Equal(t, NameSearch, f.Name)
	names := make([]string, len(f.Fields))
	for i, fl := range f.Fields {
		names[i] = fl.Name
	}
	assert.Equal(t, []string{"traceId", "rootService", "rootOperation", "start", "duration", "spans", "errorSpans", "tiers", "logs",
		"firstErrorTime", "firstErrorTier", "firstError", "slowestTier", "slowestTierSelfTime",
		"loki", "kafka:otlp_logs", "kafka:absent"}, names)
	require.Equal(t, 2, f.Rows())
	row := func(i int) map[string]any {
		out := map[string]any{}
		for _, fl := range f.Fields {
			out[fl.Name] = fl.At(i)
		}
		return out
	}

	r := row(0)
	assert.Equal(t, int64(len(m.Spans)), r["spans"])
	errs, loki, kafka := int64(0), int64(0), int64(0)
	for _, s := range m.Spans {
		if s.StatusCode == timeline.StatusError {
			errs++
		}
	}
	for _, l := range m.Logs {
		for _, s := range l.Sources {
			switch s {
			case timeline.SourceLoki:
				loki++
			case timeline.KafkaSource("otlp_logs"):
				kafka++
			}
		}
	}
	assert.Equal(t, errs, r["errorSpans"])
	assert.Equal(t, int64(len(m.Logs)), r["logs"])
	assert.Equal(t, loki, r["loki"])
	assert.Equal(t, kafka, r["kafka:otlp_logs"])
	assert.Positive(t, loki+kafka)
	assert.Equal(t, int64(0), r["kafka:absent"])
	fe := m.Summary.FirstError
	assert.Equal(t, time.Unix(0, fe.TimeNs).UTC(), *(r["firstErrorTime"].(*time.Time)))
	assert.Equal(t, fe.Tier, r["firstErrorTier"])
	assert.Contains(t, r["firstError"], fe.Name)
	var tiers []string
	slowest, slowSelf := "", int64(-1)
	for _, ts := range m.Summary.Tiers {
		if ts.Spans > 0 {
			tiers = append(tiers, ts.Tier)
			if ts.SelfNs > slowSelf {
				slowest, slowSelf = ts.Tier, ts.SelfNs
			}
		}
	}
	assert.Equal(t, strings.Join(tiers, ","), r["tiers"])
	assert.Equal(t, slowest, r["slowestTier"])
	assert.InDelta(t, float64(slowSelf)/1e6, r["slowestTierSelfTime"], 1e-9)

	r = row(1)
	assert.Equal(t, int64(7), r["spans"], "the search's count when the trace has no spans")
	assert.Equal(t, int64(2), r["errorSpans"])
	assert.Equal(t, 3.0, r["duration"])
	assert.Nil(t, r["firstErrorTime"])
	assert.Equal(t, "", r["slowestTier"])

	links := f.Fields[0].Config.Links
	require.NotEmpty(t, links)
	assert.Equal(t, "traceweave-uid", links[0].Internal.DatasourceUID)
	assert.Equal(t, map[string]any{"queryType": "timeline", "traceId": "${__value.raw}"}, links[0].Internal.Query)
	assert.Equal(t, data.VisType(data.VisTypeTable), f.Meta.PreferredVisualization)
}

// TestSearchFrameEmpty: an empty search keeps the fields.
func TestSearchFrameEmpty(t *testing.T) {
	f := Search(nil, []string{timeline.SourceLoki}, Options{})
	assert.Equal(t, 15, len(f.Fields))
	assert.Equal(t, 0, f.Rows())
}
