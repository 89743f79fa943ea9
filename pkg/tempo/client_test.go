package tempo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/traceweave/traceweave/internal/upstream"
	"github.com/traceweave/traceweave/internal/upstreamtest"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

const (
	fixtureTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	unknownTraceID = "0123456789abcdef0123456789abcdef"
	testTenant     = "team-a"
	testUser       = "alice"
	testPassword   = "s3cret-pa55"
)

// reply is one canned answer of the fake Tempo.
type reply struct {
	status      int
	contentType string
	body        []byte
	// wait blocks the handler until the client gives up (timeout tests).
	wait bool
}

// fakeTempo serves canned replies by path and asserts every request
// carries what a real Tempo behind auth and multi-tenancy needs.
type fakeTempo struct {
	t      *testing.T
	routes map[string]reply
	// wantAccept is the Accept header required on trace requests.
	wantAccept string
	// wantQuery, when set, is the exact raw query trace requests must carry.
	wantQuery string
	// wantAuth is the exact Authorization header every request must carry.
	wantAuth string

	mu    sync.Mutex
	paths []string
	// queries and headers are each request's, in the order of paths.
	queries []url.Values
	headers []http.Header
}

func (f *fakeTempo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.paths = append(f.paths, r.URL.Path)
	f.queries = append(f.queries, r.URL.Query())
	f.headers = append(f.headers, r.Header.Clone())
	f.mu.Unlock()
	if r.Method != http.MethodGet {
		f.t.Errorf("%s %s: want GET", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("X-Scope-OrgID"); got != testTenant {
		f.t.Errorf("%s: X-Scope-OrgID = %q, want %q", r.URL.Path, got, testTenant)
	}
	if got := r.Header.Get("Authorization"); got != f.wantAuth {
		f.t.Errorf("%s: Authorization = %q, want %q", r.URL.Path, got, f.wantAuth)
	}
	if strings.Contains(r.URL.Path, "/traces/") {
		if got := r.Header.Get("Accept"); got != f.wantAccept {
			f.t.Errorf("%s: Accept = %q, want %q", r.URL.Path, got, f.wantAccept)
		}
		if got := r.URL.RawQuery; got != f.wantQuery {
			f.t.Errorf("%s: query = %q, want %q", r.URL.Path, got, f.wantQuery)
		}
	}
	rep, ok := f.routes[r.URL.Path]
	if !ok {
		// Like Go's mux inside Tempo: unknown routes are a plain 404.
		http.NotFound(w, r)
		return
	}
	if rep.wait {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
			f.t.Errorf("%s: the client did not give up", r.URL.Path)
		}
		return
	}
	if rep.contentType != "" {
		w.Header().Set("Content-Type", rep.contentType)
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

func (f *fakeTempo) requested() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

// request is the query and headers of the i-th request.
func (f *fakeTempo) request(i int) (url.Values, http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.queries[i], f.headers[i]
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func basicAuth() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPassword))
}

// startTempo starts a fake Tempo with basic auth and a tenant, and a Client for it.
func startTempo(t *testing.T, routes map[string]reply) (*fakeTempo, *Client) {
	t.Helper()
	f := &fakeTempo{t: t, routes: routes, wantAccept: acceptProtobuf, wantAuth: basicAuth()}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL, 0)
	return f, c
}

func newTestClient(t *testing.T, rawURL string, timeout time.Duration) *Client {
	t.Helper()
	c, err := New(models.TempoSettings{HTTPUpstream: models.HTTPUpstream{
		URL: rawURL, Tenant: testTenant, BasicAuthUser: testUser, Password: testPassword,
		Timeout: models.Duration(timeout),
	}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

const (
	pathV2 = "/api/v2/traces/" + fixtureTraceID
	pathV1 = "/api/traces/" + fixtureTraceID
	ctPB   = "application/protobuf"
	ctJSON = "application/json"
)

var notFoundV2 = reply{status: 404, contentType: "text/plain; charset=utf-8", body: []byte("404 page not found\n")}

// wantFixtureSpans checks the 8 spans of the recorded trace in Tempo's order.
func wantFixtureSpans(t *testing.T, tr timeline.Trace) {
	t.Helper()
	require.Equal(t, fixtureTraceID, tr.TraceID)
	require.Len(t, tr.Spans, 8)
	type brief struct{ id, parent, service, name, kind string }
	want := []brief{
		{"00f067aa0ba90201", "", "go-proxy", "GET /api/orders", timeline.KindServer},
		{"00f067aa0ba90202", "00f067aa0ba90201", "go-api", "GET /api/orders", timeline.KindServer},
		{"00f067aa0ba90203", "00f067aa0ba90202", "go-api", "HTTP GET rails-api", timeline.KindClient},
		{"00f067aa0ba90204", "00f067aa0ba90203", "rails-api", "OrdersController#index", timeline.KindServer},
		{"00f067aa0ba90205", "00f067aa0ba90204", "rails-api", "SELECT orders", timeline.KindClient},
		{"00f067aa0ba90207", "00f067aa0ba90204", "rails-api", "GET", timeline.KindClient},
		{"00f067aa0ba90206", "00f067aa0ba90205", "mysql", "query", timeline.KindServer},
		{"00f067aa0ba90208", "00f067aa0ba90207", "redis", "GET", timeline.KindServer},
	}
	for i, w := range want {
		s := tr.Spans[i]
		assert.Equal(t, fixtureTraceID, s.TraceID, "span %d trace id", i)
		assert.Equal(t, w, brief{s.SpanID, s.ParentSpanID, s.Service, s.Name, s.Kind}, "span %d", i)
		assert.Empty(t, s.Tier, "tiers are assigned by timeline.AssignTiers, not the client")
	}

	root := tr.Spans[0]
	assert.Equal(t, timeline.Span{
		TraceID: fixtureTraceID, SpanID: "00f067aa0ba90201", Name: "GET /api/orders",
		Service: "go-proxy", Kind: timeline.KindServer, StatusCode: timeline.StatusOK,
		StartNs: 1795710089284890717, EndNs: 1795710089404890717,
		ResourceAttrs: []timeline.KeyValue{{Key: "deployment.environment", Value: "test"}, {Key: "service.name", Value: "go-proxy"}},
		Attrs: []timeline.KeyValue{
			{Key: "http.response.status_code", Value: int64(200)},
			{Key: "http.request.method", Value: "GET"},
			{Key: "url.path", Value: "/api/orders"},
		},
		ScopeName: "fixture-generator", ScopeVersion: "1.0.0",
	}, root)

	controller := tr.Spans[3]
	require.Len(t, controller.Events, 1)
	assert.Equal(t, timeline.SpanEvent{
		TimeNs: 1795710089314890717, Name: "cache.miss",
		Attrs: []timeline.KeyValue{{Key: "cache.key", Value: "orders:42"}},
	}, controller.Events[0])
	assert.Equal(t, timeline.StatusUnset, controller.StatusCode)

	redis := tr.Spans[7]
	assert.Equal(t, timeline.StatusError, redis.StatusCode)
	assert.Equal(t, "cache miss timeout", redis.StatusMessage)
	assert.Contains(t, tr.Spans[4].Attrs, timeline.KeyValue{Key: "db.system", Value: "mysql"})
}

func TestTraceByIDV2Protobuf(t *testing.T) {
	f, c := startTempo(t, map[string]reply{pathV2: {status: 200, contentType: ctPB, body: fixture(t, "tempo_trace_v2.pb")}})
	res, err := c.TraceByID(context.Background(), fixtureTraceID, nil)
	require.NoError(t, err)
	assert.Equal(t, APIv2, res.API)
	assert.False(t, res.Partial)
	assert.Empty(t, res.Message)
	wantFixtureSpans(t, res.Trace)
	assert.Equal(t, []string{pathV2}, f.requested())
}

func TestTraceByIDV2JSON(t *testing.T) {
	_, c := startTempo(t, map[string]reply{pathV2: {status: 200, contentType: ctJSON, body: fixture(t, "tempo_trace_v2.json")}})
	res, err := c.TraceByID(context.Background(), fixtureTraceID, nil)
	require.NoError(t, err)
	assert.Equal(t, APIv2, res.API)
	wantFixtureSpans(t, res.Trace)
	pb, err := Decode(APIv2, ctPB, fixture(t, "tempo_trace_v2.pb"))
	require.NoError(t, err)
	assert.Equal(t, pb.Trace, res.Trace, "JSON and protobuf of the same trace decode alike")
}

func TestTraceByIDFallsBackToV1Protobuf(t *testing.T) {
	f, c := startTempo(t, map[string]reply{
		pathV2: notFoundV2,
		pathV1: {status: 200, contentType: ctPB, body: fixture(t, "tempo_trace_v1.pb")},
	})
	res, err := c.TraceByID(context.Background(), fixtureTraceID, nil)
	require.NoError(t, err)
	assert.Equal(t, APIv1, res.API)
	wantFixtureSpans(t, res.Trace)
	assert.Equal(t, []string{pathV2, pathV1}, f.requested())
}

func TestTraceByIDV1JSON(t *testing.T) {
	_, c := startTempo(t, map[string]reply{
		pathV2: notFoundV2,
		pathV1: {status: 200, contentType: ctJSON, body: fixture(t, "tempo_trace_v1.json")},
	})
	res, err := c.TraceByID(context.Background(), fixtureTraceID, nil)
	require.NoError(t, err)
	assert.Equal(t, APIv1, res.API)
	wantFixtureSpans(t, res.Trace)
}

func TestTraceByIDNotFoundV2(t *testing.T) {
	f, c := startTempo(t, map[string]reply{
		"/api/v2/traces/" + unknownTraceID: {status: 200, contentType: ctJSON, body: fixture(t, "tempo_trace_v2_notfound.txt")},
	})
	_, err := c.TraceByID(context.Background(), unknownTraceID, nil)
	require.ErrorIs(t, err, ErrTraceNotFound)
	assert.EqualError(t, err, "trace "+unknownTraceID+" not found in Tempo")
	assert.Equal(t, []string{"/api/v2/traces/" + unknownTraceID}, f.requested(), "a 200 not-found must not fall back to v1")
}

func TestTraceByIDNotFoundV1(t *testing.T) {
	_, c := startTempo(t, map[string]reply{
		"/api/traces/" + unknownTraceID: {status: 404, body: fixture(t, "tempo_trace_v1_notfound.txt")},
	})
	_, err := c.TraceByID(context.Background(), unknownTraceID, nil)
	require.ErrorIs(t, err, ErrTraceNotFound)
	assert.Contains(t, err.Error(), unknownTraceID)
	var ue *upstream.Error
	assert.False(t, errors.As(err, &ue), "not found is not an upstream failure")
}

func TestTraceByIDBadRequest(t *testing.T) {
	body := fixture(t, "tempo_trace_badid.txt")
	_, c := startTempo(t, map[string]reply{pathV2: {status: 400, contentType: "text/plain; charset=utf-8", body: body}})
	_, err := c.TraceByID(context.Background(), fixtureTraceID, nil)
	var ue *upstream.Error
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, 400, ue.Status)
	assert.Equal(t, upstream.ErrStatus, ue.Kind)
	assert.Equal(t, "tempo answered 400 Bad Request: "+string(body), err.Error())
	assert.True(t, backend.IsDownstreamError(err))
	assert.False(t, backend.IsPluginError(err))
}

func TestTraceByIDServerError(t *testing.T) {
	f, c := startTempo(t, map[string]reply{pathV2: {status: 500, contentType: "text/plain", body: []byte("failed to query ingesters\n")}})
	_, err := c.TraceByID(context.Background(), fixtureTraceID, nil)
	var ue *upstream.Error
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, 500, ue.Status)
	assert.Equal(t, "tempo answered 500 Internal Server Error: failed to query ingesters", err.Error(), "Tempo's text, clipped")
	assert.True(t, backend.IsDownstreamError(err))
	assert.Equal(t, []string{pathV2}, f.requested(), "only a 404 falls back to v1")
}

func TestTraceByIDSendsTimeRange(t *testing.T) {
	f, c := startTempo(t, map[string]reply{pathV2: {status: 200, contentType: ctPB, body: fixture(t, "tempo_trace_v2.pb")}})
	f.wantQuery = "end=1795710211&start=1795706550"
	tr := &TimeRange{Start: time.Unix(1795706550, 900), End: time.Unix(1795710210, 1)}
	_, err := c.TraceByID(context.Background(), fixtureTraceID, tr)
	require.NoError(t, err)
}

func TestTraceByIDNormalisesTheID(t *testing.T) {
	f, c := startTempo(t, map[string]reply{pathV2: {status: 200, contentType: ctPB, body: fixture(t, "tempo_trace_v2.pb")}})
	res, err := c.TraceByID(context.Background(), strings.ToUpper(fixtureTraceID), nil)
	require.NoError(t, err)
	assert.Equal(t, fixtureTraceID, res.Trace.TraceID)
	assert.Equal(t, []string{pathV2}, f.requested())

	_, err = c.TraceByID(context.Background(), "../../ready", nil)
	require.ErrorIs(t, err, models.ErrInvalidTraceID)
	assert.Len(t, f.requested(), 1, "an invalid ID never reaches Tempo")
}

func TestTraceByIDPartial(t *testing.T) {
	body := fixture(t, "tempo_trace_v2.pb")
	body = protowire.AppendTag(body, fieldResponseStatus, protowire.VarintType)
	body = protowire.AppendVarint(body, statusPartial)
	body = protowire.AppendTag(body, fieldResponseMessage, protowire.BytesType)
	body = protowire.AppendString(body, "trace exceeds max size: 8 of 9000 spans returned")
	_, c := startTempo(t, map[string]reply{pathV2: {status: 200, contentType: ctPB, body: body}})
	res, err := c.TraceByID(context.Background(), fixtureTraceID, nil)
	require.NoError(t, err)
	assert.True(t, res.Partial)
	assert.Equal(t, "trace exceeds max size: 8 of 9000 spans returned", res.Message)
	wantFixtureSpans(t, res.Trace)
}

func TestTraceByIDPartialJSON(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(fixture(t, "tempo_trace_v2.json"), &doc))
	doc["status"] = "PARTIAL"
	doc["message"] = "limit"
	body, err := json.Marshal(doc)
	require.NoError(t, err)
	_, c := startTempo(t, map[string]reply{pathV2: {status: 200, contentType: ctJSON + "; charset=utf-8", body: body}})
	res, err := c.TraceByID(context.Background(), fixtureTraceID, nil)
	require.NoError(t, err)
	assert.True(t, res.Partial)
	assert.Equal(t, "limit", res.Message)
	wantFixtureSpans(t, res.Trace)
}

func TestTraceByIDUndecodableAnswer(t *testing.T) {
	for name, rep := range map[string]reply{
		"html":            {status: 200, contentType: "text/html", body: []byte("<html>login</html>")},
		"no content type": {status: 200, body: fixture(t, "tempo_trace_v2.pb")},
		"corrupt pb":      {status: 200, contentType: ctPB, body: []byte{0x0a, 0x05, 0x01}},
		"json array":      {status: 200, contentType: ctJSON, body: []byte(`[1,2]`)},
	} {
		t.Run(name, func(t *testing.T) {
			_, c := startTempo(t, map[string]reply{pathV2: rep})
			_, err := c.TraceByID(context.Background(), fixtureTraceID, nil)
			require.ErrorIs(t, err, ErrDecode)
		})
	}
}

func TestTraceByIDTimeout(t *testing.T) {
	f := &fakeTempo{t: t, routes: map[string]reply{pathV2: {wait: true}}, wantAccept: acceptProtobuf, wantAuth: basicAuth()}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL, 150*time.Millisecond)
	start := time.Now()
	_, err := c.TraceByID(context.Background(), fixtureTraceID, nil)
	require.ErrorIs(t, err, ErrTimeout)
	assert.Less(t, time.Since(start), 3*time.Second)
	host := strings.TrimPrefix(srv.URL, "http://")
	assert.Contains(t, err.Error(), "Tempo at "+host+" did not answer within 150ms")
	assert.True(t, backend.IsDownstreamError(err))
	assert.NotContains(t, err.Error(), testPassword)
}

func TestTraceByIDConnectionRefused(t *testing.T) {
	addr := upstreamtest.ClosedAddr(t)
	c := newTestClient(t, "http://"+addr, 2*time.Second)
	_, err := c.TraceByID(context.Background(), fixtureTraceID, nil)
	require.ErrorIs(t, err, ErrUnreachable)
	assert.Contains(t, err.Error(), "Tempo at "+addr)
	assert.Contains(t, err.Error(), "connection refused")
	assert.NotContains(t, err.Error(), "/api/v2/traces", "the message names the host, not the URL")
	assert.NotContains(t, err.Error(), testPassword)
	assert.True(t, backend.IsDownstreamHTTPError(err))
}

func TestTraceByIDCancelled(t *testing.T) {
	_, c := startTempo(t, map[string]reply{pathV2: {wait: true}})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := c.TraceByID(ctx, fixtureTraceID, nil)
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrUnreachable)
}

func TestTraceByIDBearerTokenAndPathPrefix(t *testing.T) {
	f := &fakeTempo{t: t, wantAccept: acceptProtobuf, wantAuth: "Bearer tok-123",
		routes: map[string]reply{"/tempo" + pathV2: {status: 200, contentType: ctPB, body: fixture(t, "tempo_trace_v2.pb")}}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(models.TempoSettings{HTTPUpstream: models.HTTPUpstream{URL: srv.URL + "/tempo/", Tenant: testTenant, BearerToken: "tok-123"}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	res, err := c.TraceByID(context.Background(), fixtureTraceID, nil)
	require.NoError(t, err)
	assert.Len(t, res.Trace.Spans, 8)
}

func TestNewRejectsUnusableURLs(t *testing.T) {
	for _, u := range []string{"", "  ", "tempo:3200", "ftp://tempo", "http://user:pw@tempo:3200", "http://"} {
		_, err := New(models.TempoSettings{HTTPUpstream: models.HTTPUpstream{URL: u}})
		require.ErrorIs(t, err, models.ErrInvalidSettings, "url %q", u)
		assert.NotContains(t, err.Error(), "pw", "url %q", u)
	}
}

func TestCheckHealth(t *testing.T) {
	echo := reply{status: 200, contentType: "text/plain; charset=utf-8", body: fixture(t, "tempo_echo.txt")}
	ready := reply{status: 200, contentType: "text/plain; charset=utf-8", body: fixture(t, "tempo_ready.txt")}

	t.Run("echo", func(t *testing.T) {
		f, c := startTempo(t, map[string]reply{"/api/echo": echo})
		require.NoError(t, c.CheckHealth(context.Background()))
		assert.Equal(t, []string{"/api/echo"}, f.requested())
	})
	t.Run("no echo, ready", func(t *testing.T) {
		f, c := startTempo(t, map[string]reply{"/ready": ready})
		require.NoError(t, c.CheckHealth(context.Background()))
		assert.Equal(t, []string{"/api/echo", "/ready"}, f.requested())
	})
	t.Run("not ready", func(t *testing.T) {
		_, c := startTempo(t, map[string]reply{"/ready": {status: 503, contentType: "text/plain", body: []byte("Ingester not ready: waiting for 15s after being ready\n")}})
		err := c.CheckHealth(context.Background())
		var ue *upstream.Error
		require.ErrorAs(t, err, &ue)
		assert.Equal(t, 503, ue.Status)
		assert.Contains(t, err.Error(), "is not healthy: GET /ready")
		assert.Contains(t, err.Error(), "Ingester not ready")
		assert.NotErrorIs(t, err, ErrAuth)
	})
	for _, status := range []int{401, 403} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			_, c := startTempo(t, map[string]reply{"/api/echo": {status: status, contentType: "text/plain", body: []byte("no org id\n")}})
			err := c.CheckHealth(context.Background())
			require.ErrorIs(t, err, ErrAuth)
			assert.Contains(t, err.Error(), "refused access")
			assert.NotContains(t, err.Error(), testPassword)
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		addr := upstreamtest.ClosedAddr(t)
		err := newTestClient(t, "http://"+addr, time.Second).CheckHealth(context.Background())
		require.ErrorIs(t, err, ErrUnreachable)
		assert.Contains(t, err.Error(), addr)
	})
}

func TestStatusErrorClipsBody(t *testing.T) {
	e := newStatusError(502, []byte(strings.Repeat("x", 2000)+"\x00\x01"))
	prefix := "tempo answered 502 Bad Gateway: "
	assert.Equal(t, len(prefix)+maxErrorBody+len("…"), len(e.Message))
	assert.True(t, strings.HasPrefix(e.Message, prefix) && strings.HasSuffix(e.Message, "…"))
	e = newStatusError(500, []byte("line one\nline two\n"))
	assert.Equal(t, "tempo answered 500 Internal Server Error: line one line two", e.Message)
	assert.Equal(t, backend.ErrorSourceDownstream, e.ErrorSource())
	assert.Equal(t, backend.ErrorSourcePlugin, newStatusError(501, nil).ErrorSource(), "the SDK's rule: 501 is the plugin's")
}
