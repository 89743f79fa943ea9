package e2e

import (
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/internal/harness"
)

// userTierRules describe the scenario's request path in a shop's own words:
// the proxy is its edge, the Rails app its checkout-api, MySQL and Redis
// one datastore layer; the Go API is left to no rule, so it is other.
var userTierRules = []any{
	map[string]any{"tier": "datastore", "match": map[string]any{"attribute": "db.system", "value": "mysql"}, "order": 3, "color": "dark-green"},
	map[string]any{"tier": "datastore", "match": map[string]any{"attribute": "db.system", "value": "redis"}},
	map[string]any{"tier": "datastore", "match": map[string]any{"attribute": "service.name", "regex": "^(mysql|redis)$"}},
	map[string]any{"tier": "edge", "match": map[string]any{"attribute": "service.name", "value": "go-proxy"}, "order": 1, "color": "purple"},
	map[string]any{"tier": "checkout-api", "match": map[string]any{"attribute": "service.name", "value": "rails-api"}, "color": "#1f77b4"},
}

// userTierOf is the tier userTierRules give a scenario span, from the tier
// the default rules give it (every scenario span's default tier maps to
// exactly one user tier).
var userTierOf = map[string]string{"proxy": "edge", "go": "other", "rails": "checkout-api", "mysql": "datastore", "redis": "datastore"}

// TestTimelineUserNamedTiers: a datasource whose tier rules name its own
// tiers gets them in the timeline and summary frames, through the built
// binary: rows with an order first (edge 1, datastore 3), then the
// unordered checkout-api by first appearance, other last, each with its
// colour in the summary's color field.
func TestTimelineUserNamedTiers(t *testing.T) {
	s := newScenario(t, tempoServe)
	p := harness.Start(t)
	settings := s.settings()
	settings.JSONData.(map[string]any)["tiers"] = userTierRules
	from, to := queryRange()
	r := runQuery(t, p, settings, map[string]any{"queryType": "timeline", "traceId": scenarioTrace, "frames": []string{"timeline", "summary"}}, from, to)
	require.NoError(t, r.Error)
	require.Equal(t, []string{"timeline", "summary"}, frameNames(r.Frames))
	timelineF, summaryF := r.Frames[0], r.Frames[1]

	t.Run("timeline frame", func(t *testing.T) {
		kinds := col[string](t, timelineF, "kind")
		tiers := col[string](t, timelineF, "tier")
		spanIDs := col[string](t, timelineF, "spanId")
		names := col[string](t, timelineF, "name")
		require.Equal(t, len(scenarioSpans)+len(scenarioLogs), len(tiers))
		for i := range tiers {
			switch kinds[i] {
			case "span":
				assert.Equal(t, userTierOf[spanByID(t, spanIDs[i]).tier], tiers[i], spanIDs[i])
			case "log":
				l := logByBody(t, names[i])
				assert.Equal(t, userTierOf[spanByID(t, l.wantSpan).tier], tiers[i], l.body)
			}
		}
		checkGolden(t, "user_tiers_timeline", timelineF)
	})

	t.Run("summary frame", func(t *testing.T) {
		tiers := col[string](t, summaryF, "tier")
		require.Equal(t, []string{"edge", "datastore", "checkout-api", "other"}, tiers)
		field, _ := summaryF.FieldByName("color")
		require.NotNil(t, field)
		var colors []string
		for i := range field.Len() {
			c, _ := field.ConcreteAt(i)
			s, _ := c.(string)
			colors = append(colors, s)
		}
		assert.Equal(t, []string{"purple", "dark-green", "#1f77b4", ""}, colors)
		assert.Nil(t, field.At(3), "other has no colour: a null cell, which Grafana's rows-to-fields skips")
		spans := col[int64](t, summaryF, "spans")
		want := map[string]int64{}
		for _, sp := range scenarioSpans {
			want[userTierOf[sp.tier]]++
		}
		for i, tier := range tiers {
			assert.Equal(t, want[tier], spans[i], "spans of %s", tier)
		}
		assert.Equal(t, data.VisTypeTable, string(summaryF.Meta.PreferredVisualization))
		checkGolden(t, "user_tiers_summary", summaryF)
	})
}
