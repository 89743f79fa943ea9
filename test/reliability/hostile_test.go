package reliability

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/internal/harness"
)

// Values an attacker (or a broken dashboard variable) puts in a field that
// ends up in LogQL or a Kafka key: quotes closing the string, LogQL
// pipelines and operators, newlines, template syntax, NUL, non-ASCII.
var hostileIDs = []string{
	`4bf92f3577b34da6"} |= "x`,
	`4bf92f3577b34da6a3ce929d0e0e4736" or trace_id=~".*`,
	"4bf92f35\n77b34da6",
	"4bf92f35\r\n| line_format",
	`4bf9'`,
	"`4bf9`",
	`{{ .Values }}`,
	`4bf9\"`,
	"4bf9\x00",
	"4bf9 | json",
	"ⅎbf9",
	`..%2F..%2Fapi`,
}

// countingUpstreams are Tempo, Loki and Kafka that count every request.
type countingUpstreams struct {
	tempo, loki *upstream
	brokers     []string
	kafka       *atomic.Int32
}

func newCountingUpstreams(t *testing.T) *countingUpstreams {
	c := newKafka(t, false)
	return &countingUpstreams{
		tempo:   newTempo(t, faultNone, tempoAuth{}),
		loki:    newLoki(t, faultNone, tempoAuth{}),
		brokers: c.ListenAddrs(),
		kafka:   countRequests(c),
	}
}

func (u *countingUpstreams) jsonData(selector string) map[string]any {
	loki := map[string]any{"url": u.loki.URL}
	if selector != "" {
		loki["selector"] = selector
	}
	return map[string]any{
		"tempo": map[string]any{"url": u.tempo.URL},
		"loki":  loki,
		"kafka": map[string]any{"brokers": u.brokers, "topics": kafkaTopics()},
	}
}

func (u *countingUpstreams) requireNoRequests(t *testing.T, what string) {
	t.Helper()
	assert.Zero(t, u.tempo.requests.Load(), "%s: Tempo was called", what)
	assert.Zero(t, u.loki.requests.Load(), "%s: Loki was called", what)
	assert.Zero(t, u.kafka.Load(), "%s: Kafka was called", what)
}

// requireRejected checks a RefID was refused as a bad request whose message
// names the field and does not echo the hostile value whole.
func requireRejected(t *testing.T, r result, value, mentions string) {
	t.Helper()
	require.Error(t, r.err, "%q must be rejected", value)
	assert.Equal(t, backend.StatusBadRequest, r.status, "%q", value)
	assert.Contains(t, r.err.Error(), mentions, "%q", value)
	assert.Empty(t, r.frames, "no frames for a rejected query")
}

// TestHostileTraceIDRejectedBeforeAnyUpstream sends each hostile value as
// the trace ID (traceId, and query, the field Grafana's links fill) through
// the binary: every RefID is refused and no upstream sees a request.
func TestHostileTraceIDRejectedBeforeAnyUpstream(t *testing.T) {
	u := newCountingUpstreams(t)
	p := harness.Start(t)
	ds := settings(u.jsonData(""), nil)
	for _, field := range []string{"traceId", "query"} {
		for _, v := range hostileIDs {
			resp, err := p.QueryData(ctxT(t, 30*time.Second), ds, harness.Query("A", map[string]any{field: v, "traceId": pick(field == "traceId", v, "")}, panelFrom, panelTo))
			require.NoError(t, err)
			requireRejected(t, resultOf(t, resp, "A"), v, "invalid trace ID")
		}
	}
	u.requireNoRequests(t, "hostile trace IDs")
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// TestHostileSpanIDRejectedBeforeAnyUpstream does the same for spanId of a
// logs query (the per-span logs link of the trace view).
func TestHostileSpanIDRejectedBeforeAnyUpstream(t *testing.T) {
	u := newCountingUpstreams(t)
	p := harness.Start(t)
	ds := settings(u.jsonData(""), nil)
	for _, v := range append(hostileIDs, "00f067aa0ba902011") {
		resp, err := p.QueryData(ctxT(t, 30*time.Second), ds,
			query("A", map[string]any{"queryType": "logs", "spanId": v}))
		require.NoError(t, err)
		requireRejected(t, resultOf(t, resp, "A"), v, "invalid span ID")
	}
	u.requireNoRequests(t, "hostile span IDs")
}

// TestHostileSourcesAndQueryTypeRejected covers the other query fields a
// user controls.
func TestHostileSourcesAndQueryTypeRejected(t *testing.T) {
	u := newCountingUpstreams(t)
	p := harness.Start(t)
	ds := settings(u.jsonData(""), nil)
	for _, model := range []map[string]any{
		{"sources": []string{`loki"} |= "x`}},
		{"sources": []string{"kafka\n"}},
		{"queryType": "logs\" or 1=1"},
	} {
		resp, err := p.QueryData(ctxT(t, 30*time.Second), ds, query("A", model))
		require.NoError(t, err)
		r := resultOf(t, resp, "A")
		require.Error(t, r.err, "%v", model)
		assert.Equal(t, backend.StatusBadRequest, r.status)
	}
	u.requireNoRequests(t, "hostile sources and query types")
}

// TestHostileSelectorRejectedBeforeAnyUpstream configures each hostile
// loki.selector: the datasource reports the field on every query and in
// its health check, and nothing is sent to any upstream, Loki included.
func TestHostileSelectorRejectedBeforeAnyUpstream(t *testing.T) {
	u := newCountingUpstreams(t)
	p := harness.Start(t)
	for _, sel := range []string{
		`{service_name=~".+"} |= "x"`,
		`{service_name=~".+"} | line_format "{{.password}}"`,
		"{service_name=~\".+\"}\n| json",
		`{service_name=~".+"} or vector(1)`,
		`{service_name=~".+"}} {job="x"`,
		`{service_name=~".+"`,
		`sum(rate({service_name=~".+"}[1m]))`,
		`{service_name=~".*"}`,
		"{service_name=\"a\"}\x00",
		`{service_name=~".+"} # comment`,
	} {
		ds := settings(u.jsonData(sel), nil)
		resp, err := p.QueryData(ctxT(t, 30*time.Second), ds, query("A", map[string]any{}))
		require.NoError(t, err)
		r := resultOf(t, resp, "A")
		requireRejected(t, r, sel, "loki.selector")
		h, err := p.CheckHealth(ctxT(t, 30*time.Second), ds)
		require.NoError(t, err)
		assert.Equal(t, backend.HealthStatusError, h.Status, "%q", sel)
		assert.Contains(t, h.Message, "loki.selector", "%q", sel)
	}
	u.requireNoRequests(t, "hostile selectors")
}

// TestQuotedSelectorValueStaysQuoted: LogQL metacharacters inside a
// properly escaped matcher value are legal and stay inside the string; the
// plugin sends the selector unchanged, followed by exactly one trace filter.
func TestQuotedSelectorValueStaysQuoted(t *testing.T) {
	sel := `{service_name=~".+", team="a\"} |= \"x"}`
	var got atomic.Value
	loki := newUpstream(t, func(u *upstream, w http.ResponseWriter, r *http.Request) {
		got.Store(r.URL.Query().Get("query"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(lokiStreams(nil))
	})
	tempo := newTempo(t, faultNone, tempoAuth{})
	p := harness.Start(t)
	resp, err := p.QueryData(ctxT(t, 30*time.Second), settings(map[string]any{
		"tempo": map[string]any{"url": tempo.URL}, "loki": map[string]any{"url": loki.URL, "selector": sel},
	}, nil), query("A", map[string]any{}))
	require.NoError(t, err)
	require.NoError(t, resultOf(t, resp, "A").err)
	q, _ := got.Load().(string)
	require.True(t, strings.HasPrefix(q, sel+" | "), "the selector is sent unchanged: %q", q)
	assert.Equal(t, 1, strings.Count(q, `trace_id="`+traceID+`"`), "one trace filter: %q", q)
}
