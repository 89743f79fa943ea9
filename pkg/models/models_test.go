package models

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalizeTraceID(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736", true},
		{"  4BF92F3577B34DA6A3CE929D0E0E4736 ", "4bf92f3577b34da6a3ce929d0e0e4736", true},
		{"a3ce929d0e0e4736", "0000000000000000a3ce929d0e0e4736", true}, // 64-bit IDs
		{"abc", "00000000000000000000000000000abc", true},              // odd length
		{"", "", false},
		{"xyz", "", false},
		{"4bf92f3577b34da6a3ce929d0e0e47361", "", false}, // 33 digits
		{`4bf9"} |~ ".*`, "", false},
		{"4bf9\n2f35", "", false},
		{"0x4bf9", "", false},
	}
	for _, c := range cases {
		got, err := NormalizeTraceID(c.in)
		if !c.ok {
			require.ErrorIs(t, err, ErrInvalidTraceID, "input %q", c.in)
			continue
		}
		require.NoError(t, err, "input %q", c.in)
		require.Equal(t, c.want, got)
	}
}

func TestNormalizeSpanIDRejectsLong(t *testing.T) {
	_, err := NormalizeSpanID("00f067aa0ba902011")
	require.ErrorIs(t, err, ErrInvalidSpanID)
	got, err := NormalizeSpanID("F067AA0BA90201")
	require.NoError(t, err)
	require.Equal(t, "00f067aa0ba90201", got)
}

func TestParseQuery(t *testing.T) {
	q, err := ParseQuery(json.RawMessage(`{"refId":"A","traceId":"ABC","spanId":"1","sources":["loki","tempo","loki"]}`), "")
	require.NoError(t, err)
	require.Equal(t, QueryTypeTimeline, q.QueryType)
	require.Equal(t, "00000000000000000000000000000abc", q.TraceID)
	require.Equal(t, "0000000000000001", q.SpanID)
	require.Equal(t, []string{"loki", "tempo"}, q.Sources)

	_, err = ParseQuery(json.RawMessage(`{"traceId":"xyz"}`), "")
	require.ErrorIs(t, err, ErrInvalidTraceID)
	_, err = ParseQuery(json.RawMessage(`{"traceId":"abc","queryType":"metrics"}`), "")
	require.ErrorContains(t, err, "unknown queryType")
	_, err = ParseQuery(json.RawMessage(`{"traceId":"abc","sources":["elastic"]}`), "")
	require.ErrorContains(t, err, "unknown source")
	_, err = ParseQuery(json.RawMessage(`{"traceId":`), "")
	require.Error(t, err)
	q, err = ParseQuery(json.RawMessage(`{"traceId":"abc"}`), QueryTypeLogs)
	require.NoError(t, err)
	require.Equal(t, QueryTypeLogs, q.QueryType)
	require.Empty(t, q.Sources, "no sources means all")
	// Loki derived-field links send the value as "query".
	q, err = ParseQuery(json.RawMessage(`{"query":"4BF92F3577B34DA6A3CE929D0E0E4736"}`), "")
	require.NoError(t, err)
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", q.TraceID)
}

func TestLoadSettingsDefaults(t *testing.T) {
	s, err := LoadSettings([]byte(`{
		"tempo": {"url": "http://tempo:3200/", "tenant": "t1"},
		"loki": {"url": "http://loki:3100"},
		"kafka": {"brokers": ["kafka:9092"], "topics": [{"name": "otlp_logs", "keyedByTraceId": true}, {"name": "audit", "encoding": "json"}]},
		"window": {"before": "10s"}
	}`), map[string]string{"tempoPassword": "s3cret", "kafkaPassword": "k"})
	require.NoError(t, err)
	require.Equal(t, "http://tempo:3200", s.Tempo.URL)
	require.Equal(t, "s3cret", s.Tempo.Password)
	require.Equal(t, DefaultLokiSelector, s.Loki.Selector)
	require.Equal(t, TraceFilterAuto, s.Loki.TraceFilter)
	require.Equal(t, DefaultLokiMaxLines, s.Loki.MaxLines)
	require.Equal(t, DefaultLokiParallelQueries, s.Loki.ParallelQueries)
	require.Equal(t, EncodingOTLPProto, s.Kafka.Topics[0].Encoding)
	require.Equal(t, HasherSaramaCompat, s.Kafka.Topics[0].Hasher)
	require.Equal(t, 10*time.Second, time.Duration(s.Window.Before))
	require.Equal(t, DefaultWindowAfter, time.Duration(s.Window.After))
	require.Len(t, s.Tiers, len(DefaultTierRules()))
	require.ElementsMatch(t, []string{"s3cret", "k"}, s.Secrets())
	// Secrets never serialise back out.
	b, err := json.Marshal(s)
	require.NoError(t, err)
	require.NotContains(t, string(b), "s3cret")
}

func TestLoadSettingsEmpty(t *testing.T) {
	s, err := LoadSettings(nil, nil)
	require.NoError(t, err)
	require.False(t, s.Tempo.Configured())
	require.False(t, s.Loki.Configured())
	require.False(t, s.Kafka.Configured())
}

func TestLoadSettingsErrorsNameTheField(t *testing.T) {
	cases := map[string]string{
		`{"tempo":{"url":"tempo:3200"}}`:                                                         "tempo.url",
		`{"tempo":{"url":"http://user:pw@tempo:3200"}}`:                                          "tempo.url",
		`{"loki":{"selector":"{job=~\".*\"}"}}`:                                                  "loki.selector",
		`{"loki":{"selector":"service_name=\"a\""}}`:                                             "loki.selector",
		`{"loki":{"traceFilter":"regex"}}`:                                                       "loki.traceFilter",
		`{"loki":{"maxLines":-1}}`:                                                               "loki.maxLines",
		`{"kafka":{"brokers":["kafka"],"topics":[{"name":"a"}]}}`:                                "kafka.brokers[0]",
		`{"kafka":{"brokers":["k:9092"],"topics":[{"name":""}]}}`:                                "kafka.topics[0].name",
		`{"kafka":{"brokers":["k:9092"],"topics":[{"name":"a b"}]}}`:                             "kafka.topics[0].name",
		`{"kafka":{"brokers":["k:9092"],"topics":[{"name":"a"},{"name":"a"}]}}`:                  "kafka.topics[1].name",
		`{"kafka":{"brokers":["k:9092"],"topics":[{"name":"a","encoding":"avro"}]}}`:             "kafka.topics[0].encoding",
		`{"kafka":{"brokers":["k:9092"],"topics":[{"name":"a","hasher":"crc"}]}}`:                "kafka.topics[0].hasher",
		`{"kafka":{"brokers":["k:9092"]}}`:                                                       "kafka.topics",
		`{"kafka":{"topics":[{"name":"a"}]}}`:                                                    "kafka.brokers",
		`{"kafka":{"brokers":["k:9092"],"topics":[{"name":"a"}],"sasl":{"mechanism":"PLAIN"}}}`:  "kafka.sasl.username",
		`{"kafka":{"brokers":["k:9092"],"topics":[{"name":"a"}],"sasl":{"mechanism":"GSSAPI"}}}`: "kafka.sasl.mechanism",
		`{"window":{"before":"30"}}`:                                                             "window",
		`{"window":{"after":"-1m"}}`:                                                             "window.after",
		`{"tiers":[{"tier":"  ","match":{"attribute":"a","value":"b"}}]}`:                        "tiers[0].tier",
		`{"tiers":[{"tier":"edge\nproxy","match":{"attribute":"a","value":"b"}}]}`:               "tiers[0].tier",
		`{"tiers":[{"tier":"go","match":{"attribute":"a","regex":"("}}]}`:                        "tiers[0].match.regex",
		`{"tiers":[{"tier":"go","match":{"attribute":"a"}}]}`:                                    "tiers[0].match",
		`{"loki":{"maxLines":"many"}}`:                                                           "loki.maxLines",
		`{"loki":{"parallelQueries":17}}`:                                                        "loki.parallelQueries",
		`{"loki":{"parallelQueries":-1}}`:                                                        "loki.parallelQueries",
	}
	for in, field := range cases {
		_, err := LoadSettings([]byte(in), nil)
		require.Error(t, err, in)
		require.True(t, errors.Is(err, ErrInvalidSettings), in)
		require.Contains(t, err.Error(), field, in)
	}
}

// TestUserNamedTiers: any short printable name is a tier, with an optional
// order and colour that the rules of one tier share.
func TestUserNamedTiers(t *testing.T) {
	s, err := LoadSettings([]byte(`{"tiers":[
		{"tier":" edge ","match":{"attribute":"service.name","regex":"^envoy"},"order":1,"color":"purple"},
		{"tier":"checkout-api","match":{"attribute":"telemetry.sdk.language","value":"java"},"color":"#1f77b4"},
		{"tier":"datastore","match":{"attribute":"db.system","value":"postgresql"},"order":3},
		{"tier":"datastore","match":{"attribute":"db.system","value":"memcached"},"order":3,"color":"dark-green"},
		{"tier":"Kassen-Dienst ü","match":{"attribute":"a","value":"b"}}]}`), nil)
	require.NoError(t, err)
	require.Equal(t, "edge", s.Tiers[0].Tier, "names are trimmed")
	styles := TierStyles(s.Tiers)
	require.Len(t, styles, 4)
	require.Equal(t, "edge", styles[0].Tier)
	require.Equal(t, 1, *styles[0].Order)
	require.Equal(t, "purple", styles[0].Color)
	require.Nil(t, styles[1].Order)
	require.Equal(t, "#1f77b4", styles[1].Color)
	require.Equal(t, 3, *styles[2].Order)
	require.Equal(t, "dark-green", styles[2].Color, "a colour set on any rule of the tier applies to it")

	// The pre-existing shape, {tier, match}, still loads, demo names included.
	_, err = LoadSettings([]byte(`{"tiers":[{"tier":"rails","match":{"attribute":"a","value":"b"}},{"tier":"other","match":{"attribute":"c","value":"d"}}]}`), nil)
	require.NoError(t, err)

	long := strings.Repeat("x", MaxTierNameLen)
	_, err = LoadSettings([]byte(`{"tiers":[{"tier":"`+long+`","match":{"attribute":"a","value":"b"}}]}`), nil)
	require.NoError(t, err, "a name of exactly MaxTierNameLen characters is fine")

	bad := map[string]string{
		`{"tiers":[{"tier":"","match":{"attribute":"a","value":"b"}}]}`:                                                                                                                            "tiers[0].tier: is empty",
		`{"tiers":[{"tier":"` + long + `x","match":{"attribute":"a","value":"b"}}]}`:                                                                                                               "tiers[0].tier",
		`{"tiers":[{"tier":"a\u0007b","match":{"attribute":"a","value":"b"}}]}`:                                                                                                                    "tiers[0].tier",
		`{"tiers":[{"tier":"a\u200bb","match":{"attribute":"a","value":"b"}}]}`:                                                                                                                    "tiers[0].tier",
		`{"tiers":[{"tier":"a","match":{"attribute":"a","value":"b"},"color":"chartreuse"}]}`:                                                                                                      "tiers[0].color",
		`{"tiers":[{"tier":"a","match":{"attribute":"a","value":"b"},"color":"#12345"}]}`:                                                                                                          "tiers[0].color",
		`{"tiers":[{"tier":"a","match":{"attribute":"a","value":"b"},"order":"first"}]}`:                                                                                                           "tiers.order must be a int",
		`{"tiers":[{"tier":"a","match":{"attribute":"a","value":"b"},"order":1},{"tier":"b","match":{"attribute":"a","value":"c"}},{"tier":"a","match":{"attribute":"a","value":"d"},"order":2}]}`: "tiers[2].order: 2 conflicts with tiers[0].order 1",
		`{"tiers":[{"tier":"a","match":{"attribute":"a","value":"b"},"color":"red"},{"tier":"a","match":{"attribute":"a","value":"c"},"color":"blue"}]}`:                                           "tiers[1].color",
	}
	for in, want := range bad {
		_, err := LoadSettings([]byte(in), nil)
		require.Error(t, err, in)
		require.True(t, errors.Is(err, ErrInvalidSettings), in)
		require.Contains(t, err.Error(), want, in)
	}
	// Same order and colour on two rules of one tier agree: no conflict.
	_, err = LoadSettings([]byte(`{"tiers":[{"tier":"a","match":{"attribute":"a","value":"b"},"order":1,"color":"red"},{"tier":"a","match":{"attribute":"a","value":"c"},"order":1,"color":"red"}]}`), nil)
	require.NoError(t, err)
}

func TestValidateSelector(t *testing.T) {
	for _, ok := range []string{`{service_name=~".+"}`, `{job="api"}`, `{job="api", env!="dev"}`, `{app=~"a|b"}`} {
		require.NoError(t, ValidateSelector(ok), ok)
	}
	for _, bad := range []string{``, `{}`, `{job=~".*"}`, `{job=""}`, `{job!="a"}`, `{job="a"} |= "x"`, `{job="a"}` + "\n", `{job="a\"}`} {
		require.Error(t, ValidateSelector(bad), bad)
	}
}

func TestUpstreamURL(t *testing.T) {
	u, err := UpstreamURL("loki.url", " http://loki:3100/prefix/?x=1#f ", "http://loki:3100")
	require.NoError(t, err)
	assert.Equal(t, "http://loki:3100/prefix", u.String(), "no trailing slash, query or fragment")
	for raw, want := range map[string]string{
		"":                          "loki.url: is empty",
		"loki:3100":                 `loki.url: "loki:3100" is not an http(s) URL such as http://loki:3100`,
		"ftp://loki":                "is not an http(s) URL",
		"http://user:pw@loki:3100/": "loki.url: put credentials in basicAuthUser",
		"ftp://user:pw@loki":        "loki.url: put credentials in basicAuthUser",
	} {
		_, err := UpstreamURL("loki.url", raw, "http://loki:3100")
		require.ErrorIs(t, err, ErrInvalidSettings, raw)
		assert.Contains(t, err.Error(), want, raw)
		assert.NotContains(t, err.Error(), "pw", "the password is never echoed")
	}
}
