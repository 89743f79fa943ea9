package loki

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/internal/upstream"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// fixtureLine is what a recorded line must decode to.
type fixtureLine struct {
	ts      int64
	service string
	span    string
}

// smLines are the 9 lines of loki_query_range_sm_filter*.json in time order:
// 6 pushed lines (…718) and 3 OTLP records (…719).
var smLines = []fixtureLine{
	{1795710089284890718, "go-proxy", "00f067aa0ba90201"},
	{1795710089289890718, "go-api", "00f067aa0ba90202"},
	{1795710089294890718, "go-api", "00f067aa0ba90203"},
	{1795710089299890718, "rails-api", "00f067aa0ba90204"},
	{1795710089299890719, "rails-api", "00f067aa0ba90204"},
	{1795710089304890718, "rails-api", "00f067aa0ba90205"},
	{1795710089304890719, "rails-api", "00f067aa0ba90205"},
	{1795710089349890718, "rails-api", "00f067aa0ba90207"},
	{1795710089349890719, "rails-api", "00f067aa0ba90207"},
}

// lineFilterLines are the 7 lines of loki_query_range_linefilter*.json: the
// OTLP records whose body lacks the ID are not matched.
var lineFilterLines = []fixtureLine{smLines[0], smLines[1], smLines[2], smLines[3], smLines[5], smLines[7], smLines[8]}

// fixtureServer serves one recorded query_range body and asserts the request.
func fixtureServer(t *testing.T, wantQuery, file string, status int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	body := fixture(t, file)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		assert.Equal(t, http.MethodGet, r.Method)
		assert.Equal(t, pathQueryRange, r.URL.Path)
		q := r.URL.Query()
		assert.Equal(t, wantQuery, q.Get("query"))
		assert.Equal(t, strconv.FormatInt(fixtureStart, 10), q.Get("start"))
		assert.Equal(t, strconv.FormatInt(fixtureEnd, 10), q.Get("end"))
		assert.Equal(t, "forward", q.Get("direction"))
		assert.Equal(t, "100", q.Get("limit"))
		assert.Equal(t, categorizeLabels, r.Header.Get(encodingFlagsHeader))
		assertCommonHeaders(t, r)
		if status == http.StatusOK {
			w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		} else {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// recordedCase is a recorded answer of Loki to the trace filter of one mode.
type recordedCase struct {
	name, filter, query, file string
	want                      []fixtureLine
}

// recordedCases are the recorded answers for the fixture trace, each with
// the query that was recorded and the lines it must decode to.
func recordedCases() []recordedCase {
	structured := `{service_name=~".+"} | trace_id="` + fixtureTraceID + `"`
	line := `{service_name=~".+"} |= "` + fixtureTraceID + `"`
	auto := BuildQueries(models.DefaultLokiSelector, models.TraceFilterAuto, fixtureTraceID)[0]
	return []recordedCase{
		{"structured categorized", models.TraceFilterStructured, structured, "loki_query_range_sm_filter_categorized.json", smLines},
		{"structured plain", models.TraceFilterStructured, structured, "loki_query_range_sm_filter.json", smLines},
		{"line categorized", models.TraceFilterLine, line, "loki_query_range_linefilter_categorized.json", lineFilterLines},
		{"line plain", models.TraceFilterLine, line, "loki_query_range_linefilter.json", lineFilterLines},
		// auto matches either filter; on this data that is every line the
		// structured filter finds (a superset of the line filter's).
		{"auto categorized", models.TraceFilterAuto, auto, "loki_query_range_sm_filter_categorized.json", smLines},
	}
}

func TestQueryRecordedFixtures(t *testing.T) {
	for _, tc := range recordedCases() {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := fixtureServer(t, tc.query, tc.file, http.StatusOK)
			c := newTestClient(t, srv.URL, func(s *models.LokiSettings) { s.TraceFilter = tc.filter })
			// Upper case and surrounding space: Query normalises the ID.
			res, err := c.Query(context.Background(), " "+strings.ToUpper(fixtureTraceID)+" ", fixtureStart, fixtureEnd)
			require.NoError(t, err)
			require.EqualValues(t, 1, calls.Load())
			assert.Equal(t, 1, res.Pages)
			assert.False(t, res.Truncated)
			assert.Empty(t, res.Notices)
			require.Len(t, res.Records, len(tc.want))
			ids := map[string]bool{}
			for i, w := range tc.want {
				r := res.Records[i]
				assert.Equal(t, w.ts, r.TimeNs, "record %d", i)
				assert.Equal(t, w.service, r.Service, "record %d", i)
				assert.Equal(t, w.span, r.SpanID, "record %d", i)
				assert.Equal(t, fixtureTraceID, r.TraceID, "record %d", i)
				assert.Equal(t, timeline.SeverityInfo, r.Severity, "record %d", i)
				assert.Equal(t, timeline.SourceLoki, r.Source)
				assert.NotEmpty(t, r.Body)
				assert.NotContains(t, r.Labels.Map(), lineMatchLabel)
				assert.NotEmpty(t, r.Labels.Get(StreamLabel))
				assert.False(t, ids[r.ID], "duplicate ID %s", r.ID)
				ids[r.ID] = true
			}
		})
	}
}

func TestQueryCategorizedLabels(t *testing.T) {
	srv, _ := fixtureServer(t, BuildQueries(models.DefaultLokiSelector, models.TraceFilterStructured, fixtureTraceID)[0],
		"loki_query_range_sm_filter_categorized.json", http.StatusOK)
	c := newTestClient(t, srv.URL, func(s *models.LokiSettings) { s.TraceFilter = models.TraceFilterStructured })
	res, err := c.Query(context.Background(), fixtureTraceID, fixtureStart, fixtureEnd)
	require.NoError(t, err)
	otlp := res.Records[len(res.Records)-1] // the OTLP "GET" record
	assert.Equal(t, "otlp: GET completed in 10ms trace_id="+fixtureTraceID, otlp.Body)
	assert.Equal(t, `{deployment_environment="test", service_name="rails-api", service_namespace="shop"}`, otlp.Labels.Get(StreamLabel))
	assert.Equal(t, "1795710089349890719_"+otlp.ID[len("1795710089349890719_"):], otlp.ID)
	for k, v := range map[string]string{
		"service_name": "rails-api", "deployment_environment": "test", // stream
		"severity_text": "INFO", "code_function": "GET", "span_id": "00f067aa0ba90207", // structured metadata
	} {
		assert.Equal(t, v, otlp.Labels.Get(k), k)
	}
	// The ID does not depend on the page or query: a second run agrees.
	again, err := c.Query(context.Background(), fixtureTraceID, fixtureStart, fixtureEnd)
	require.NoError(t, err)
	assert.Equal(t, res.Records, again.Records)
}

func TestBuildQueries(t *testing.T) {
	sel := `{service_name="go-api", env=~"prod|test"}`
	assert.Equal(t, []string{sel + ` | trace_id="` + fixtureTraceID + `"`}, BuildQueries(sel, models.TraceFilterStructured, fixtureTraceID))
	assert.Equal(t, []string{sel + ` |= "` + fixtureTraceID + `"`}, BuildQueries(sel, models.TraceFilterLine, fixtureTraceID))
	assert.Equal(t, []string{sel + " | label_format log_line_contains_trace_id=`{{ contains \"" + fixtureTraceID + "\" __line__ }}`" +
		` | log_line_contains_trace_id="true" or trace_id="` + fixtureTraceID + `"`}, BuildQueries(sel, models.TraceFilterAuto, fixtureTraceID))
	// 64-bit IDs are padded as Tempo pads them.
	assert.Equal(t, []string{sel + ` |= "0000000000000000a3ce929d0e0e4736"`}, BuildQueries(sel, models.TraceFilterLine, "A3CE929D0E0E4736"))
	assert.Nil(t, BuildQueries(sel, "regex", fixtureTraceID))
}

// hostileIDs are trace IDs that would change the LogQL if embedded as they are.
var hostileIDs = []string{
	`"} |~ ".*"`,
	`4bf92f3577b34da6a3ce929d0e0e4736" or trace_id!="`,
	"4bf92f3577b34da6\n3ce929d0e0e4736",
	"4bf92f3577b34da6`3ce929d0e0e4736",
	"`{{ .Line }}`",
	"4bf92f3577b34da6a3ce929d0e0e47360", // 33 hex digits
	"",
	"zz",
}

func TestHostileTraceIDMakesNoRequest(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	for _, filter := range []string{models.TraceFilterAuto, models.TraceFilterStructured, models.TraceFilterLine} {
		c := newTestClient(t, srv.URL, func(s *models.LokiSettings) { s.TraceFilter = filter })
		for _, id := range hostileIDs {
			assert.Nil(t, BuildQueries(models.DefaultLokiSelector, filter, id), "%q", id)
			res, err := c.Query(context.Background(), id, fixtureStart, fixtureEnd)
			assert.ErrorIs(t, err, models.ErrInvalidTraceID, "%q", id)
			assert.Nil(t, res)
		}
	}
	assert.Zero(t, calls.Load(), "no request may reach Loki")
}

func TestQueryRejectsEmptyRange(t *testing.T) {
	c := newTestClient(t, "http://loki.invalid:3100", nil)
	_, err := c.Query(context.Background(), fixtureTraceID, fixtureEnd, fixtureEnd)
	assert.ErrorIs(t, err, ErrInvalidTimeRange)
}

func TestNewValidates(t *testing.T) {
	for _, edit := range []func(*models.LokiSettings){
		func(s *models.LokiSettings) { s.URL = "" },
		func(s *models.LokiSettings) { s.URL = "loki:3100" },
		func(s *models.LokiSettings) { s.Selector = `{job=~".*"}` },
		func(s *models.LokiSettings) { s.TraceFilter = "regex" },
	} {
		cfg := testSettings("http://loki:3100")
		edit(&cfg)
		_, err := New(cfg)
		assert.ErrorIs(t, err, models.ErrInvalidSettings)
	}
	// Zero values get the defaults.
	c, err := New(models.LokiSettings{HTTPUpstream: models.HTTPUpstream{URL: "http://loki:3100/"}})
	require.NoError(t, err)
	assert.Equal(t, models.DefaultLokiMaxLines, c.maxLines)
	assert.Equal(t, models.DefaultLokiMaxTotal, c.maxTotal)
	assert.Equal(t, models.DefaultLokiSelector, c.selector)
	assert.Equal(t, "http://loki:3100", c.base)
}

func TestUpstreamErrors(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   []byte
		is     error
		want   string
	}{
		{"recorded bad query", http.StatusBadRequest, fixture(t, "loki_query_range_bad_query.txt"), nil, "parse error at line 1, col 25: literal not terminated"},
		{"rate limited", http.StatusTooManyRequests, []byte("too many outstanding requests\n"), ErrRateLimited, "too many outstanding requests"},
		{"unauthorized", http.StatusUnauthorized, []byte("no org id\n"), ErrAuth, "no org id"},
		{"forbidden", http.StatusForbidden, []byte("forbidden\n"), ErrAuth, "authentication failed"},
		{"server error", http.StatusInternalServerError, []byte("rpc error: code = Unavailable desc = connection error\n"), nil, "connection error"},
		{"gateway timeout", http.StatusGatewayTimeout, []byte("context deadline exceeded\n"), nil, "HTTP 504 Gateway Timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(tc.status)
				_, _ = w.Write(tc.body)
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL, nil)
			_, err := c.Query(context.Background(), fixtureTraceID, fixtureStart, fixtureEnd)
			var ue *upstream.Error
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, tc.status, ue.Status)
			assert.Equal(t, upstream.Loki, ue.Upstream)
			assert.True(t, strings.HasSuffix(err.Error(), ": "+strings.TrimSpace(string(tc.body))), "Loki's own text, clipped, ends the message")
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), pathQueryRange)
			assert.NotContains(t, err.Error(), testPassword)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.NotErrorIs(t, err, ErrUnreachable)
		})
	}
}

func TestBadResponses(t *testing.T) {
	for name, body := range map[string]string{
		"not json":     "<html>proxy error</html>",
		"status error": `{"status":"error","data":{}}`,
		"matrix":       `{"status":"success","data":{"resultType":"matrix","result":[]}}`,
		"bad ts":       `{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[["12a","x"]]}]}}`,
		"short value":  `{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[["12"]]}]}}`,
		"truncated":    `{"status":"success","data":{"resultType":"streams","result":[{"stream":{"a":"b"},"values":[["1","x"`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) }))
			defer srv.Close()
			c := newTestClient(t, srv.URL, nil)
			_, err := c.Query(context.Background(), fixtureTraceID, fixtureStart, fixtureEnd)
			assert.ErrorIs(t, err, ErrBadResponse)
			assert.ErrorIs(t, err, upstream.ErrBadResponse)
		})
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close() // nothing listens there any more
	c := newTestClient(t, "http://"+addr, nil)
	_, err := c.Query(context.Background(), fixtureTraceID, fixtureStart, fixtureEnd)
	require.ErrorIs(t, err, ErrUnreachable)
	var ue *upstream.Error
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, upstream.Loki, ue.Upstream)
	assert.Contains(t, err.Error(), "loki at "+addr)
	assert.NotContains(t, err.Error(), testPassword)
	assert.NotContains(t, err.Error(), "query=", "the URL's query stays out of the message")

	err = c.CheckHealth(context.Background())
	assert.ErrorIs(t, err, ErrUnreachable)
}

func TestContextDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Query(ctx, fixtureTraceID, fixtureStart, fixtureEnd)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, upstream.ErrTimeout)
	assert.NotErrorIs(t, err, ErrUnreachable, "a slow Loki is not a down one")
}

func TestCheckHealth(t *testing.T) {
	ready, labels := fixture(t, "loki_ready.txt"), fixture(t, "loki_labels.json")
	var log requestLog
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		assertCommonHeaders(t, r)
		switch r.URL.Path {
		case pathReady:
			_, _ = w.Write(ready)
		case pathLabels:
			start, err1 := strconv.ParseInt(r.URL.Query().Get("start"), 10, 64)
			end, err2 := strconv.ParseInt(r.URL.Query().Get("end"), 10, 64)
			assert.NoError(t, err1)
			assert.NoError(t, err2)
			assert.Equal(t, int64(healthRange), end-start, "a short range keeps the check cheap")
			_, _ = w.Write(labels)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	require.NoError(t, c.CheckHealth(context.Background()))
	reqs := log.all()
	require.Len(t, reqs, 2)
	assert.Equal(t, pathReady, reqs[0].URL.Path)
	assert.Equal(t, pathLabels, reqs[1].URL.Path)
}

func TestCheckHealthFailures(t *testing.T) {
	cases := []struct {
		name          string
		ready, labels func(w http.ResponseWriter)
		is            error
		want          string
	}{
		{
			name: "not ready",
			ready: func(w http.ResponseWriter) {
				http.Error(w, "Ingester not ready: waiting for 15s after being ready", http.StatusServiceUnavailable)
			},
			want: "loki /ready: HTTP 503 Service Unavailable: Ingester not ready",
		},
		{
			name:   "auth",
			labels: func(w http.ResponseWriter) { http.Error(w, "no org id", http.StatusUnauthorized) },
			is:     ErrAuth,
			want:   "loki /loki/api/v1/labels: authentication failed",
		},
		{
			name:   "not a loki",
			labels: func(w http.ResponseWriter) { _, _ = w.Write([]byte("<html>hello</html>")) },
			is:     ErrBadResponse,
			want:   "is 127.0.0.1",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == pathReady && tc.ready != nil:
					tc.ready(w)
				case r.URL.Path == pathReady:
					_, _ = w.Write([]byte("ready\n"))
				case tc.labels != nil:
					tc.labels(w)
				default:
					_, _ = w.Write([]byte(`{"status":"success","data":[]}`))
				}
			}))
			defer srv.Close()
			err := newTestClient(t, srv.URL, nil).CheckHealth(context.Background())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), testPassword)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
}

// TestErrorsClassify checks the categories survive wrapping.
func TestErrorsClassify(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", newStatusError(429, pathQueryRange, nil))
	assert.True(t, errors.Is(err, ErrRateLimited))
	assert.False(t, errors.Is(err, ErrAuth))
}
