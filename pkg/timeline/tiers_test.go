package timeline_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/tempo"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// fixtureSpans decodes the recorded Tempo trace (8 spans, the real Tempo
// answer in pkg/tempo/testdata) with the real decoder.
func fixtureSpans(t *testing.T) []timeline.Span {
	t.Helper()
	b, err := os.ReadFile("../tempo/testdata/tempo_trace_v2.pb")
	require.NoError(t, err)
	res, err := tempo.Decode(tempo.APIv2, "application/protobuf", b)
	require.NoError(t, err)
	require.Len(t, res.Trace.Spans, 8)
	return res.Trace.Spans
}

func tiersByName(spans []timeline.Span) map[string]string {
	out := map[string]string{}
	for _, s := range spans {
		out[s.SpanID[14:]+" "+s.Service+" "+s.Name] = s.Tier
	}
	return out
}

func TestAssignTiersDefaultRulesOnFixture(t *testing.T) {
	spans := fixtureSpans(t)
	timeline.AssignTiers(spans, models.DefaultTierRules())
	// The fixture's resources carry only service.name and
	// deployment.environment, no telemetry.sdk.language: the Go API and the
	// Rails controller span cannot be told apart by the default rules and
	// are honestly "other". Database client spans go by db.system.
	assert.Equal(t, map[string]string{
		"01 go-proxy GET /api/orders":         timeline.TierProxy,
		"02 go-api GET /api/orders":           timeline.TierOther,
		"03 go-api HTTP GET rails-api":        timeline.TierOther,
		"04 rails-api OrdersController#index": timeline.TierOther,
		"05 rails-api SELECT orders":          timeline.TierMySQL,
		"06 mysql query":                      timeline.TierMySQL,
		"07 rails-api GET":                    timeline.TierRedis,
		"08 redis GET":                        timeline.TierRedis,
	}, tiersByName(spans))
}

func TestAssignTiersDefaultRulesWithSDKLanguage(t *testing.T) {
	spans := fixtureSpans(t)
	// What real OpenTelemetry SDKs add to every resource.
	for i := range spans {
		lang := map[string]string{"go-proxy": "go", "go-api": "go", "rails-api": "ruby"}[spans[i].Service]
		if lang != "" {
			spans[i].ResourceAttrs = append(append([]timeline.KeyValue(nil), spans[i].ResourceAttrs...),
				timeline.KeyValue{Key: "telemetry.sdk.language", Value: lang})
		}
	}
	timeline.AssignTiers(spans, models.DefaultTierRules())
	assert.Equal(t, map[string]string{
		"01 go-proxy GET /api/orders":         timeline.TierProxy, // proxy rule precedes the go rule
		"02 go-api GET /api/orders":           timeline.TierGo,
		"03 go-api HTTP GET rails-api":        timeline.TierGo,
		"04 rails-api OrdersController#index": timeline.TierRails,
		"05 rails-api SELECT orders":          timeline.TierMySQL, // db.system precedes the ruby rule
		"06 mysql query":                      timeline.TierMySQL,
		"07 rails-api GET":                    timeline.TierRedis,
		"08 redis GET":                        timeline.TierRedis,
	}, tiersByName(spans))
}

func TestAssignTiersCustomRules(t *testing.T) {
	spans := fixtureSpans(t)
	// Rules as a user would provision them: validated by LoadSettings, so
	// their regexps are compiled.
	s, err := models.LoadSettings([]byte(`{"tiers":[
		{"tier":"rails","match":{"attribute":"code.namespace","value":"OrdersController"}},
		{"tier":"go","match":{"attribute":"service.name","regex":"^go-api$"}},
		{"tier":"proxy","match":{"attribute":"http.response.status_code","value":"200"}},
		{"tier":"mysql","match":{"attribute":"deployment.environment","regex":"^te"}}
	]}`), nil)
	require.NoError(t, err)
	timeline.AssignTiers(spans, s.Tiers)
	assert.Equal(t, map[string]string{
		"01 go-proxy GET /api/orders":         timeline.TierProxy, // int attribute matched by its string form
		"02 go-api GET /api/orders":           timeline.TierGo,    // first match wins over the status-code rule
		"03 go-api HTTP GET rails-api":        timeline.TierGo,
		"04 rails-api OrdersController#index": timeline.TierRails, // span attribute
		"05 rails-api SELECT orders":          timeline.TierMySQL, // resource attribute
		"06 mysql query":                      timeline.TierMySQL,
		"07 rails-api GET":                    timeline.TierMySQL,
		"08 redis GET":                        timeline.TierMySQL,
	}, tiersByName(spans))
}

func TestAssignTiersUnvalidatedRules(t *testing.T) {
	spans := []timeline.Span{
		{SpanID: "a", Service: "edge-gateway"},
		{SpanID: "b", Service: "billing", Attrs: []timeline.KeyValue{{Key: "retry", Value: true}, {Key: "ratio", Value: 0.5}}},
		{SpanID: "c", Service: "billing", ResourceAttrs: []timeline.KeyValue{{Key: "db.system", Value: "redis"}},
			Attrs: []timeline.KeyValue{{Key: "db.system", Value: "mysql"}}},
		{SpanID: "d"},
	}
	rules := []models.TierRule{
		{Tier: "rails", Match: models.TierMatch{Attribute: "service.name", Regex: "(unclosed"}}, // never matches
		{Tier: "proxy", Match: models.TierMatch{Attribute: "service.name", Regex: "gateway$"}},  // compiled lazily
		{Tier: "go", Match: models.TierMatch{Attribute: "ratio", Value: "0.5"}},
		{Tier: "mysql", Match: models.TierMatch{Attribute: "db.system", Value: "mysql"}}, // span attribute shadows resource
		{Tier: "redis", Match: models.TierMatch{Attribute: "service.name", Regex: "^$"}}, // empty service is no value
	}
	timeline.AssignTiers(spans, rules)
	got := []string{spans[0].Tier, spans[1].Tier, spans[2].Tier, spans[3].Tier}
	assert.Equal(t, []string{timeline.TierProxy, timeline.TierGo, timeline.TierMySQL, timeline.TierOther}, got)

	timeline.AssignTiers(spans, nil)
	for _, s := range spans {
		assert.Equal(t, timeline.TierOther, s.Tier, "no rules: everything is other")
	}
}
