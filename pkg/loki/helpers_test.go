package loki

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/models"
)

// Values of the recorded fixtures (testdata/: real Loki 3.7.6 answers, docs/DESIGN.md "Upstream facts").
const (
	fixtureTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	fixtureStart   = int64(1795706550000000000)
	fixtureEnd     = int64(1795710210000000000)
	testTenant     = "team-a"
	testUser       = "grafana"
	testPassword   = "s3cret-loki-password"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// testSettings are settings as LoadSettings would produce them, with auth and
// tenant set so every test checks they reach Loki.
func testSettings(url string) models.LokiSettings {
	return models.LokiSettings{
		HTTPUpstream: models.HTTPUpstream{
			URL: url, Tenant: testTenant, BasicAuthUser: testUser, Password: testPassword,
		},
		Selector:      models.DefaultLokiSelector,
		TraceFilter:   models.TraceFilterAuto,
		MaxLines:      100,
		MaxTotalLines: models.DefaultLokiMaxTotal,
	}
}

func newTestClient(t testing.TB, url string, edit func(*models.LokiSettings)) *Client {
	t.Helper()
	cfg := testSettings(url)
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// requestLog records what an httptest Loki received.
type requestLog struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (l *requestLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, r.Clone(r.Context()))
}

func (l *requestLog) all() []*http.Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*http.Request(nil), l.reqs...)
}

// assertCommonHeaders checks what every request to Loki must carry. It uses
// assert, not require: it runs in the server's goroutine.
func assertCommonHeaders(t testing.TB, r *http.Request) {
	t.Helper()
	assert.Equal(t, testTenant, r.Header.Get("X-Scope-OrgID"), "tenant header")
	user, pass, ok := r.BasicAuth()
	assert.True(t, ok, "basic auth")
	assert.Equal(t, testUser, user)
	assert.Equal(t, testPassword, pass)
}

// fakeLine is one line stored in fakeLoki.
type fakeLine struct {
	stream map[string]string
	sm     map[string]string
	ts     int64
	line   string
}

// fakeLoki answers query_range like Loki does for a logs query: lines in
// [start, end), forward order (ties by stream, then line), at most limit,
// grouped by stream, categorize-labels encoding; limits above maxEntries are
// refused with Loki's 400 text. Lines are looked up by the exact LogQL, so
// the test also asserts the query.
type fakeLoki struct {
	t       testing.TB
	byQuery map[string][]fakeLine
	// eval, when set, evaluates each query's trace filter over its lines
	// (see evalTraceFilter) instead of looking the query up in byQuery.
	eval       *filterEval
	maxEntries int
	wantLimit  int
	// failAfter > 0 answers 502 to every request after the first failAfter.
	failAfter int
	// failFrom > 0 answers 502 to requests starting at or after it.
	failFrom int64
	// endInclusive answers [start, end] instead of Loki's [start, end).
	endInclusive bool
	// gate, when set, is called before answering (after the request is
	// logged), so a test can hold answers.
	gate func(r *http.Request)
	log  requestLog
}

func (f *fakeLoki) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.log.add(r)
	if f.gate != nil {
		f.gate(r)
	}
	if start, _ := strconv.ParseInt(r.URL.Query().Get("start"), 10, 64); f.failFrom > 0 && start >= f.failFrom ||
		f.failAfter > 0 && len(f.log.all()) > f.failAfter {
		http.Error(w, "upstream connect error", http.StatusBadGateway)
		return
	}
	if r.URL.Path != pathQueryRange {
		http.NotFound(w, r)
		return
	}
	assertCommonHeaders(f.t, r)
	q := r.URL.Query()
	lines, ok := f.byQuery[q.Get("query")]
	if f.eval != nil {
		var err error
		if lines, err = f.eval.lines(q.Get("query")); err != nil {
			http.Error(w, "parse error: "+err.Error(), http.StatusBadRequest)
			return
		}
		ok = true
	}
	if !ok {
		http.Error(w, "unexpected query "+q.Get("query"), http.StatusBadRequest)
		return
	}
	if q.Get("direction") != "forward" || r.Header.Get(encodingFlagsHeader) != categorizeLabels {
		http.Error(w, "want direction=forward and categorize-labels", http.StatusBadRequest)
		return
	}
	start, err1 := strconv.ParseInt(q.Get("start"), 10, 64)
	end, err2 := strconv.ParseInt(q.Get("end"), 10, 64)
	limit, err3 := strconv.Atoi(q.Get("limit"))
	if err1 != nil || err2 != nil || err3 != nil || limit <= 0 {
		http.Error(w, "bad start/end/limit", http.StatusBadRequest)
		return
	}
	if f.wantLimit != 0 && limit != f.wantLimit && end-start != 1 {
		http.Error(w, fmt.Sprintf("limit %d, want %d", limit, f.wantLimit), http.StatusBadRequest)
		return
	}
	if f.maxEntries > 0 && limit > f.maxEntries {
		http.Error(w, fmt.Sprintf("max entries limit per query exceeded, limit > max_entries_limit_per_query (%d > %d)", limit, f.maxEntries), http.StatusBadRequest)
		return
	}
	var sel []fakeLine
	for _, l := range lines {
		if l.ts >= start && (l.ts < end || f.endInclusive && l.ts == end) {
			sel = append(sel, l)
		}
	}
	sort.SliceStable(sel, func(i, j int) bool {
		if sel[i].ts != sel[j].ts {
			return sel[i].ts < sel[j].ts
		}
		si, sj := fmt.Sprint(sel[i].stream), fmt.Sprint(sel[j].stream)
		if si != sj {
			return si < sj
		}
		return sel[i].line < sel[j].line
	})
	if len(sel) > limit {
		sel = sel[:limit]
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(categorizedResponse(sel))
}

// categorizedResponse renders lines as Loki 3 does with categorize-labels.
func categorizedResponse(lines []fakeLine) []byte {
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][]any           `json:"values"`
	}
	var streams []*stream
	index := map[string]*stream{}
	for _, l := range lines {
		key := fmt.Sprint(l.stream)
		s := index[key]
		if s == nil {
			s = &stream{Stream: l.stream}
			index[key] = s
			streams = append(streams, s)
		}
		meta := map[string]any{}
		if len(l.sm) > 0 {
			meta["structuredMetadata"] = l.sm
		}
		s.Values = append(s.Values, []any{strconv.FormatInt(l.ts, 10), l.line, meta})
	}
	if streams == nil {
		streams = []*stream{}
	}
	b, err := json.Marshal(map[string]any{
		"status": "success",
		"data": map[string]any{
			"resultType":    "streams",
			"encodingFlags": []string{categorizeLabels},
			"result":        streams,
			"stats":         map[string]any{"summary": map[string]any{"totalEntriesReturned": len(lines)}},
		},
	})
	if err != nil {
		panic(err)
	}
	return b
}

func startFake(t testing.TB, f *fakeLoki) *httptest.Server {
	t.Helper()
	f.t = t
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv
}
