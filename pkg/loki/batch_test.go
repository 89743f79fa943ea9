package loki

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/internal/upstream"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// filterEval is a Loki evaluating Traceweave's trace filters, of one ID and
// of many, over a set of lines, the way Loki evaluates them: a label
// matcher on the line's trace_id label (structured metadata over stream
// labels), anchored; a line filter on the text, unanchored, case-sensitive;
// auto's label_format template run by text/template with Loki's contains
// (sprig's: contains substr s) and __line__, or-ed with the label matcher.
// A query it cannot parse is an error, so a malformed expression fails the
// test as Loki's 400 would. Results are kept per query.
type filterEval struct {
	all   []fakeLine
	mu    sync.Mutex
	cache map[string][]fakeLine
}

var (
	evalLineEq = regexp.MustCompile(`^\|= "([0-9a-f]{32})"$`)
	evalLineRe = regexp.MustCompile(`^\|~ "([0-9a-f|]+)"$`)
	evalLabel  = regexp.MustCompile(`^trace_id(=|=~)"([0-9a-f|]+)"$`)
	evalAuto   = regexp.MustCompile("^\\| label_format " + lineMatchLabel + "=`([^`]*)` \\| " + lineMatchLabel + `="true" or (.*)$`)
)

func (f *filterEval) lines(query string) ([]fakeLine, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if got, ok := f.cache[query]; ok {
		return got, nil
	}
	match, err := parseTraceFilter(query)
	if err != nil {
		return nil, err
	}
	got := []fakeLine{}
	for _, l := range f.all {
		if match(l) {
			got = append(got, l)
		}
	}
	if f.cache == nil {
		f.cache = map[string][]fakeLine{}
	}
	f.cache[query] = got
	return got, nil
}

// parseTraceFilter returns the line predicate of a trace filter under the
// default selector.
func parseTraceFilter(query string) (func(fakeLine) bool, error) {
	rest, ok := strings.CutPrefix(query, models.DefaultLokiSelector+" ")
	if !ok {
		return nil, fmt.Errorf("selector of %q", query)
	}
	if m := evalLineEq.FindStringSubmatch(rest); m != nil {
		return func(l fakeLine) bool { return strings.Contains(l.line, m[1]) }, nil
	}
	if m := evalLineRe.FindStringSubmatch(rest); m != nil {
		re := regexp.MustCompile(m[1])
		return func(l fakeLine) bool { return re.MatchString(l.line) }, nil
	}
	if label, ok := strings.CutPrefix(rest, "| "); ok && strings.HasPrefix(label, "trace_id") {
		return parseTraceIDMatcher(label)
	}
	m := evalAuto.FindStringSubmatch(rest)
	if m == nil {
		return nil, fmt.Errorf("filter %q", rest)
	}
	label, err := parseTraceIDMatcher(m[2])
	if err != nil {
		return nil, err
	}
	var line string
	tmpl, err := template.New("label").Option("missingkey=zero").Funcs(template.FuncMap{
		"contains": func(substr, s string) bool { return strings.Contains(s, substr) },
		"__line__": func() string { return line },
	}).Parse(m[1])
	if err != nil {
		return nil, err
	}
	return func(l fakeLine) bool {
		line = l.line
		var b strings.Builder
		if err := tmpl.Execute(&b, l.labels()); err != nil {
			panic(err)
		}
		return b.String() == "true" || label(l)
	}, nil
}

func parseTraceIDMatcher(s string) (func(fakeLine) bool, error) {
	m := evalLabel.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("label matcher %q", s)
	}
	if m[1] == "=" {
		return func(l fakeLine) bool { v, ok := l.traceIDLabel(); return ok && v == m[2] }, nil
	}
	re := regexp.MustCompile("^(?:" + m[2] + ")$")
	return func(l fakeLine) bool { v, ok := l.traceIDLabel(); return ok && re.MatchString(v) }, nil
}

// labels are the line's stream labels and structured metadata, as a
// template sees them.
func (l fakeLine) labels() map[string]string {
	m := make(map[string]string, len(l.stream)+len(l.sm))
	for k, v := range l.stream {
		m[k] = v
	}
	for k, v := range l.sm {
		m[k] = v
	}
	return m
}

func (l fakeLine) traceIDLabel() (string, bool) {
	if v, ok := l.sm["trace_id"]; ok {
		return v, true
	}
	v, ok := l.stream["trace_id"]
	return v, ok
}

// batchIDs are n distinct trace IDs: two differ only in their last digit
// (a Loki cannot turn that alternation into substring searches) and one is
// a 64-bit ID padded with zeros.
func batchIDs(n int) []string {
	const hex = "0123456789abcdef"
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%016x%016x", uint64(i+1)*0x9e3779b97f4a7c15, uint64(i+7)*0xbf58476d1ce4e5b9)
	}
	if n > 2 {
		ids[1] = ids[0][:31] + string(hex[(strings.IndexByte(hex, ids[0][31])+1)%16])
		ids[2] = "0000000000000000" + ids[2][16:]
	}
	return ids
}

// batchLines are n lines of the traces ids, interleaved in time (line i is
// trace i % len(ids), one a microsecond, every seventh sharing the
// timestamp of the one before), over three streams, in six shapes, so that
// each filter mode matches a different set:
//
//	0: OTLP, trace_id in structured metadata, the text without it
//	1: pushed, the ID only in the text
//	2: both
//	3: trace_id, the text naming the next trace (a line of two traces)
//	4: the ID in upper case, label and text (matched by no mode), the
//	   text naming the next trace
//	5: no trace_id, the text holding the ID and the next one's without a
//	   break (two IDs in one run of hex)
func batchLines(ids []string, n int, base int64) []fakeLine {
	streams := []map[string]string{
		{"service_name": "go-proxy", "env": "test"},
		{"service_name": "go-api", "env": "test"},
		{"service_name": "rails-api", "env": "test"},
	}
	lines := make([]fakeLine, n)
	ts := base
	for i := range lines {
		if i%7 != 6 {
			ts = base + int64(i)*1000
		}
		k := i % len(ids)
		id, next := ids[k], ids[(k+1)%len(ids)]
		l := fakeLine{stream: streams[i%3], ts: ts, sm: map[string]string{"severity_text": "INFO"}}
		switch (i / len(ids)) % 6 {
		case 0:
			l.sm["trace_id"], l.line = id, fmt.Sprintf("otlp: SELECT orders %d", i)
		case 1:
			l.line = fmt.Sprintf("level=info msg=\"GET /x/%d\" trace_id=%s", i, id)
		case 2:
			l.sm["trace_id"], l.line = id, fmt.Sprintf("otlp: GET /y/%d trace_id=%s", i, id)
		case 3:
			l.sm["trace_id"], l.line = id, fmt.Sprintf("forwarded %d to trace %s", i, next)
		case 4:
			l.sm["trace_id"], l.line = strings.ToUpper(id), fmt.Sprintf("upper %d %s, then %s", i, strings.ToUpper(id), next)
		case 5:
			l.line = fmt.Sprintf("batch %d %s%s", i, id, next)
		}
		lines[i] = l
	}
	return lines
}

var filterModes = []string{models.TraceFilterStructured, models.TraceFilterLine, models.TraceFilterAuto}

// sortedRecords orders records by time, then ID: at one timestamp the order
// follows the streams of the page a line came in, which depends on where
// pages end.
func sortedRecords(rs []timeline.LogRecord) []timeline.LogRecord {
	return slices.SortedFunc(slices.Values(rs), func(a, b timeline.LogRecord) int {
		return cmp.Or(cmp.Compare(a.TimeNs, b.TimeNs), strings.Compare(a.ID, b.ID))
	})
}

func requireTimeOrder(t *testing.T, rs []timeline.LogRecord, what string) {
	t.Helper()
	require.True(t, slices.IsSortedFunc(rs, func(a, b timeline.LogRecord) int { return cmp.Compare(a.TimeNs, b.TimeNs) }), "%s in time order", what)
}

func TestBuildBatchQueries(t *testing.T) {
	sel := `{service_name="go-api"}`
	a, b := fixtureTraceID, "0000000000000000a3ce929d0e0e4736"
	assert.Equal(t, []string{sel + ` | trace_id=~"` + a + `|` + b + `"`},
		BuildBatchQueries(sel, models.TraceFilterStructured, []string{a, "A3CE929D0E0E4736"}))
	assert.Equal(t, []string{sel + ` |~ "` + a + `|` + b + `"`},
		BuildBatchQueries(sel, models.TraceFilterLine, []string{a, b}))
	assert.Equal(t, []string{sel + " | label_format log_line_contains_trace_id=`{{ or (contains \"" + a + "\" __line__) (contains \"" + b + "\" __line__) }}`" +
		` | log_line_contains_trace_id="true" or trace_id=~"` + a + `|` + b + `"`},
		BuildBatchQueries(sel, models.TraceFilterAuto, []string{a, b}))
	for _, filter := range filterModes {
		// One ID, or one asked twice, is the trace query's expression.
		assert.Equal(t, BuildQueries(sel, filter, a), BuildBatchQueries(sel, filter, []string{a}), filter)
		assert.Equal(t, BuildQueries(sel, filter, a), BuildBatchQueries(sel, filter, []string{a, " " + strings.ToUpper(a)}), filter)
		assert.Nil(t, BuildBatchQueries(sel, filter, nil), filter)
		for _, bad := range hostileIDs {
			assert.Nil(t, BuildBatchQueries(sel, filter, []string{a, bad}), "%s %q", filter, bad)
		}
	}
	assert.Nil(t, BuildBatchQueries(sel, "regex", []string{a, b}))
	assert.Equal(t, BuildQueries("", models.TraceFilterLine, a), BuildBatchQueries(" ", models.TraceFilterLine, []string{a}), "the default selector")
}

// chunkIDs returns the IDs each expression names, in order.
func chunkIDs(queries []string) [][]string {
	hexID := regexp.MustCompile(`[0-9a-f]{32}`)
	var out [][]string
	for _, q := range queries {
		var ids []string
		for _, id := range hexID.FindAllString(q, -1) {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		out = append(out, ids)
	}
	return out
}

func TestBuildBatchQueriesChunks(t *testing.T) {
	ids := batchIDs(120)
	for _, tc := range []struct {
		name, selector, filter string
		n                      int
		want                   []int // IDs per expression
	}{
		{"51 IDs by count", models.DefaultLokiSelector, models.TraceFilterStructured, 51, []int{26, 25}},
		{"51 IDs by count, line", models.DefaultLokiSelector, models.TraceFilterLine, 51, []int{26, 25}},
		{"50 IDs fit by count", models.DefaultLokiSelector, models.TraceFilterLine, 50, []int{50}},
		{"auto: 50 IDs by length", models.DefaultLokiSelector, models.TraceFilterAuto, 50, []int{25, 25}},
		{"auto: 120 IDs", models.DefaultLokiSelector, models.TraceFilterAuto, 120, []int{40, 40, 40}},
		{"a long selector", `{service_name=~"` + strings.Repeat("x", 3500) + `"}`, models.TraceFilterStructured, 50, []int{17, 17, 16}},
		{"a selector longer than the bound", `{service_name=~"` + strings.Repeat("x", 5000) + `"}`, models.TraceFilterLine, 3, []int{1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			queries := BuildBatchQueries(tc.selector, tc.filter, ids[:tc.n])
			chunks := chunkIDs(queries)
			var sizes []int
			var all []string
			for i, q := range queries {
				sizes = append(sizes, len(chunks[i]))
				all = append(all, chunks[i]...)
				assert.LessOrEqual(t, len(chunks[i]), maxBatchIDs)
				if len(chunks[i]) > 1 {
					assert.LessOrEqual(t, len(q), maxBatchQueryBytes)
				}
				assert.True(t, strings.HasPrefix(q, tc.selector+" "))
			}
			assert.Equal(t, tc.want, sizes)
			assert.Equal(t, ids[:tc.n], all, "every ID once, in order")
		})
	}
}

// TestBatchQueryURLLength measures the request lines of the largest batch
// expressions: under the 8 KiB that gateways in front of Loki accept (see
// maxBatchQueryBytes).
func TestBatchQueryURLLength(t *testing.T) {
	var longest atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raiseTo(&longest, int64(len("GET  HTTP/1.1")+len(r.RequestURI)))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(categorizedResponse(nil))
	}))
	t.Cleanup(srv.Close)
	ids := batchIDs(models.MaxSearchLimit)
	for _, filter := range filterModes {
		longest.Store(0)
		c := newTestClient(t, srv.URL, func(s *models.LokiSettings) { s.TraceFilter = filter })
		// Every group size, so the largest expression of each mode is sent.
		for n := 1; n <= len(ids); n++ {
			_, err := c.QueryTraces(context.Background(), []timeline.WindowGroup{{StartNs: fixtureStart, EndNs: fixtureEnd, TraceIDs: ids[:n]}})
			require.NoError(t, err)
		}
		t.Logf("%s: longest request line %d bytes", filter, longest.Load())
		assert.Less(t, longest.Load(), int64(5<<10), filter)
	}
}

// raiseTo raises m to n if n is larger.
func raiseTo(m *atomic.Int64, n int64) {
	for old := m.Load(); n > old && !m.CompareAndSwap(old, n); old = m.Load() {
	}
}

// batchGroups are three groups over batchLines(ids, 1200, pageBase): the
// first and second share a trace, the last asks for every trace, and lines
// lie between and around them.
func batchGroups(ids []string) []timeline.WindowGroup {
	us := int64(1000)
	return []timeline.WindowGroup{
		// Out of time order: QueryTraces orders them.
		{StartNs: pageBase + 700*us, EndNs: pageBase + 1100*us, TraceIDs: append(slices.Clone(ids[10:20]), ids[3])},
		{StartNs: pageBase + 100*us, EndNs: pageBase + 500*us, TraceIDs: slices.Clone(ids[:10])},
		{StartNs: pageBase + 1130*us, EndNs: pageBase + 1190*us, TraceIDs: slices.Clone(ids)},
	}
}

// Each trace's lines in the batch are what the trace query of that trace
// over its groups returns, against a Loki evaluating both filters, in each
// filter mode, page by page and in parallel slots: the batch changes the
// requests, not what they find.
func TestQueryTracesByTraceIsWhatQueryFinds(t *testing.T) {
	ids := batchIDs(20)
	lines := batchLines(ids, 1200, pageBase)
	groups := batchGroups(ids)
	for _, filter := range filterModes {
		f := &fakeLoki{eval: &filterEval{all: lines}}
		srv := startFake(t, f)
		for _, parallel := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/parallel=%d", filter, parallel), func(t *testing.T) {
				c := newTestClient(t, srv.URL, func(s *models.LokiSettings) {
					s.TraceFilter = filter
					s.MaxLines = 37 // pages end inside lines sharing a timestamp
					s.ParallelQueries = parallel
				})
				res, err := c.QueryTraces(context.Background(), groups)
				require.NoError(t, err)
				assert.False(t, res.Truncated)
				assert.Empty(t, res.Notices)
				twice := requireWhatQueryFinds(t, c, groups, res)
				if filter != models.TraceFilterStructured { // one trace_id a line
					assert.Positive(t, twice, "some lines belong to two traces")
				}
			})
		}
	}
}

// requireWhatQueryFinds checks a batch against the trace queries of each
// of its traces over the groups that ask for it: each trace's lines are
// theirs, and the records are their union, each line once, in time order.
// It returns how many lines belong to more than one trace.
func requireWhatQueryFinds(t *testing.T, c *Client, groups []timeline.WindowGroup, res *TracesResult) int {
	t.Helper()
	requireTimeOrder(t, res.Records, "records")
	var ids []string
	for _, g := range groups {
		for _, id := range g.TraceIDs {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	union := map[string]timeline.LogRecord{}
	twice := 0
	for _, id := range ids {
		var want []timeline.LogRecord
		for _, g := range groups {
			if slices.Contains(g.TraceIDs, id) {
				one, err := c.Query(context.Background(), id, g.StartNs, g.EndNs)
				require.NoError(t, err)
				want = append(want, one.Records...)
			}
		}
		require.NotEmpty(t, want, "trace %s has lines", id)
		got := res.ByTrace[id]
		requireTimeOrder(t, got, id)
		require.Equal(t, sortedRecords(want), sortedRecords(got), "trace %s", id)
		for _, r := range want {
			if _, ok := union[r.ID]; ok {
				twice++
			}
			union[r.ID] = r
		}
	}
	require.Len(t, res.Records, len(union), "every line once")
	for _, r := range res.Records {
		require.Contains(t, union, r.ID)
	}
	return twice
}

// A line naming two requested traces is under both; in structured mode only
// its trace_id counts.
func TestQueryTracesLineOfTwoTraces(t *testing.T) {
	ids := batchIDs(3)
	a, b, other := ids[0], ids[1], ids[2] // a and b differ only in the last digit
	lines := []fakeLine{
		{stream: map[string]string{"service_name": "api"}, ts: pageBase, sm: map[string]string{"trace_id": a}, line: "calls " + b},
		{stream: map[string]string{"service_name": "api"}, ts: pageBase + 1, line: "retry " + a + " after " + b},
		{stream: map[string]string{"service_name": "api"}, ts: pageBase + 2, line: "of " + other},
	}
	f := &fakeLoki{eval: &filterEval{all: lines}}
	srv := startFake(t, f)
	for filter, want := range map[string]map[string][]string{
		models.TraceFilterStructured: {a: {"calls " + b}},
		models.TraceFilterLine:       {a: {"retry " + a + " after " + b}, b: {"calls " + b, "retry " + a + " after " + b}},
		models.TraceFilterAuto:       {a: {"calls " + b, "retry " + a + " after " + b}, b: {"calls " + b, "retry " + a + " after " + b}},
	} {
		c := newTestClient(t, srv.URL, func(s *models.LokiSettings) { s.TraceFilter = filter })
		res, err := c.QueryTraces(context.Background(), []timeline.WindowGroup{{StartNs: pageBase, EndNs: pageBase + 10, TraceIDs: []string{a, b}}})
		require.NoError(t, err)
		got := map[string][]string{}
		for id, rs := range res.ByTrace {
			for _, r := range rs {
				got[id] = append(got[id], r.Body)
			}
		}
		assert.Equal(t, want, got, filter)
	}
}

// The requests are those of the groups and their chunks, however many
// traces they hold: 60 traces in two groups are three query_range requests
// (the first group's 55 IDs are two expressions), not 60.
func TestQueryTracesRequestsPerGroupNotPerTrace(t *testing.T) {
	ids := batchIDs(60)
	lines := batchLines(ids, 600, pageBase)
	groups := []timeline.WindowGroup{
		{StartNs: pageBase, EndNs: pageBase + 300_000, TraceIDs: ids[:55]},
		{StartNs: pageBase + 300_000, EndNs: pageBase + 600_000, TraceIDs: ids[55:]},
	}
	for _, filter := range filterModes {
		f := &fakeLoki{eval: &filterEval{all: lines}}
		srv := startFake(t, f)
		c := newTestClient(t, srv.URL, func(s *models.LokiSettings) {
			s.TraceFilter = filter
			s.MaxLines = 5000
		})
		res, err := c.QueryTraces(context.Background(), groups)
		require.NoError(t, err)
		want := 0
		for _, g := range groups {
			want += len(BuildBatchQueries(models.DefaultLokiSelector, filter, g.TraceIDs))
		}
		assert.Equal(t, 3, want, filter)
		assert.Equal(t, want, res.Queries, filter)
		assert.Len(t, f.log.all(), want, filter)
		assert.Equal(t, want, res.Pages, filter)
		// The first group's two expressions both find the lines naming a
		// trace of each: they are kept once.
		requireWhatQueryFinds(t, c, groups, res)
	}
}

// loki.parallelQueries bounds the requests at once of the whole batch, its
// groups and the slots of each together: three groups of several pages
// each, read with two requests at once, never have a third in flight.
func TestQueryTracesRequestsAtOnce(t *testing.T) {
	ids := batchIDs(20)
	lines := batchLines(ids, 1200, pageBase)
	var inFlight, most atomic.Int64
	f := &fakeLoki{eval: &filterEval{all: lines}}
	f.gate = func(r *http.Request) {
		raiseTo(&most, inFlight.Add(1))
		time.Sleep(10 * time.Millisecond) // answers overlap
		inFlight.Add(-1)
	}
	srv := startFake(t, f)
	c := newTestClient(t, srv.URL, func(s *models.LokiSettings) {
		s.MaxLines = 20
		s.ParallelQueries = 2
	})
	res, err := c.QueryTraces(context.Background(), batchGroups(ids))
	require.NoError(t, err)
	assert.Greater(t, res.Pages, 3*4, "several pages a group")
	assert.EqualValues(t, 2, most.Load(), "requests at once")
}

// loki.maxTotalLines bounds the batch: the earliest lines of the groups are
// kept, Truncated says whether Loki had more, parallel or not, and each
// trace keeps its lines among those kept.
func TestQueryTracesMaxTotalLines(t *testing.T) {
	ids := batchIDs(20)
	lines := batchLines(ids, 1200, pageBase)
	groups := batchGroups(ids)
	// Groups after the lines: Loki has nothing there.
	empty := append(slices.Clone(groups[1:2]),
		timeline.WindowGroup{StartNs: pageBase + 2_000_000, EndNs: pageBase + 3_000_000, TraceIDs: ids[:5]},
		timeline.WindowGroup{StartNs: pageBase + 4_000_000, EndNs: pageBase + 5_000_000, TraceIDs: ids[5:]})
	f := &fakeLoki{eval: &filterEval{all: lines}}
	srv := startFake(t, f)
	query := func(groups []timeline.WindowGroup, maxTotal, parallel int) *TracesResult {
		c := newTestClient(t, srv.URL, func(s *models.LokiSettings) {
			s.TraceFilter = models.TraceFilterAuto
			s.MaxLines = 37
			s.MaxTotalLines = maxTotal
			s.ParallelQueries = parallel
		})
		res, err := c.QueryTraces(context.Background(), groups)
		require.NoError(t, err)
		return res
	}
	for _, tc := range []struct {
		name     string
		groups   []timeline.WindowGroup
		maxTotal func(all, first int) int
	}{
		{"cut inside the first group", groups, func(_, first int) int { return first / 2 }},
		{"cut at the first group's end", groups, func(_, first int) int { return first }},
		{"cut inside a later group", groups, func(all, first int) int { return first + (all-first)/2 }},
		{"cap at the lines", groups, func(all, _ int) int { return all }},
		{"cap above the lines", groups, func(all, _ int) int { return all + 1 }},
		{"cap at the lines, empty groups after", empty, func(_, first int) int { return first }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full := query(tc.groups, 1_000_000, 1)
			first := 0
			for _, r := range full.Records {
				if r.TimeNs < pageBase+500_000 {
					first++
				}
			}
			require.Positive(t, first)
			maxTotal := tc.maxTotal(len(full.Records), first)
			want := queryView{IDs: nil, Truncated: maxTotal < len(full.Records)}
			for _, r := range full.Records[:min(maxTotal, len(full.Records))] {
				want.IDs, want.Times = append(want.IDs, r.ID), append(want.Times, r.TimeNs)
			}
			for _, parallel := range []int{1, 4} {
				res := query(tc.groups, maxTotal, parallel)
				assertSameView(t, want, viewQuery(&res.Result, nil), fmt.Sprintf("maxTotal %d, parallel %d", maxTotal, parallel))
				kept := map[string]bool{}
				for _, r := range res.Records {
					kept[r.ID] = true
				}
				for _, id := range ids {
					var wantTrace []timeline.LogRecord
					for _, r := range full.ByTrace[id] {
						if kept[r.ID] {
							wantTrace = append(wantTrace, r)
						}
					}
					assert.Equal(t, sortedRecords(wantTrace), sortedRecords(res.ByTrace[id]), "trace %s, parallel %d", id, parallel)
				}
			}
		})
	}
}

// An ID that is not a trace ID, anywhere in the batch, fails it before any
// request; so does a group that does not end after its start.
func TestQueryTracesInvalidInputMakesNoRequest(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	t.Cleanup(srv.Close)
	ids := batchIDs(3)
	for _, filter := range filterModes {
		c := newTestClient(t, srv.URL, func(s *models.LokiSettings) { s.TraceFilter = filter })
		for _, bad := range hostileIDs {
			groups := []timeline.WindowGroup{
				{StartNs: fixtureStart, EndNs: fixtureStart + 10, TraceIDs: ids},
				{StartNs: fixtureStart + 20, EndNs: fixtureEnd, TraceIDs: []string{ids[0], bad, ids[1]}},
			}
			res, err := c.QueryTraces(context.Background(), groups)
			assert.ErrorIs(t, err, models.ErrInvalidTraceID, "%q", bad)
			assert.Nil(t, res)
		}
		res, err := c.QueryTraces(context.Background(), []timeline.WindowGroup{
			{StartNs: fixtureStart, EndNs: fixtureEnd, TraceIDs: ids},
			{StartNs: fixtureEnd, EndNs: fixtureEnd, TraceIDs: ids},
		})
		assert.ErrorIs(t, err, ErrInvalidTimeRange)
		assert.Nil(t, res)
		// Nothing to ask: no request, nothing found.
		res, err = c.QueryTraces(context.Background(), []timeline.WindowGroup{{StartNs: fixtureStart, EndNs: fixtureEnd}})
		require.NoError(t, err)
		assert.Empty(t, res.Records)
		assert.Empty(t, res.ByTrace)
		assert.Zero(t, res.Queries)
	}
	assert.Zero(t, calls.Load(), "no request may reach Loki")
}

// A cancelled search stops: before the first request, or while a later
// group's request waits, with the lines read before it.
func TestQueryTracesCancel(t *testing.T) {
	ids := batchIDs(20)
	lines := batchLines(ids, 1200, pageBase)
	groups := batchGroups(ids)
	blocked, release := make(chan struct{}), make(chan struct{})
	var n atomic.Int32
	f := &fakeLoki{eval: &filterEval{all: lines}, gate: func(r *http.Request) {
		if n.Add(1) == 2 {
			close(blocked)
			<-release
		}
	}}
	srv := startFake(t, f)
	t.Cleanup(func() { close(release) }) // before the server closes: it waits for its handlers
	c := newTestClient(t, srv.URL, func(s *models.LokiSettings) {
		s.TraceFilter = models.TraceFilterStructured
		s.MaxLines = 5000
		s.ParallelQueries = 1
	})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := c.QueryTraces(ctx, groups)
	assert.ErrorIs(t, err, upstream.ErrCanceled)
	require.NotNil(t, res)
	assert.Empty(t, res.Records)
	assert.Zero(t, n.Load(), "a cancelled search asks nothing")

	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		<-blocked
		cancel()
	}()
	start := time.Now()
	res, err = c.QueryTraces(ctx, groups)
	assert.ErrorIs(t, err, upstream.ErrCanceled)
	assert.Less(t, time.Since(start), 5*time.Second)
	require.NotNil(t, res)
	require.NotEmpty(t, res.Records, "the first group's lines are kept")
	for _, r := range res.Records {
		assert.Less(t, r.TimeNs, groups[1].EndNs, "only the first group's lines")
	}
	assert.NotEmpty(t, res.ByTrace[ids[0]])
	assert.Empty(t, res.ByTrace[ids[15]], "a trace of the second group only")
}

// A failing group ends the search there: the lines of the groups before it
// are returned with the error.
func TestQueryTracesFailureKeepsEarlierGroups(t *testing.T) {
	ids := batchIDs(20)
	lines := batchLines(ids, 1200, pageBase)
	groups := batchGroups(ids)
	for _, parallel := range []int{1, 4} {
		f := &fakeLoki{eval: &filterEval{all: lines}, failFrom: groups[0].StartNs}
		srv := startFake(t, f)
		c := newTestClient(t, srv.URL, func(s *models.LokiSettings) { s.ParallelQueries = parallel })
		res, err := c.QueryTraces(context.Background(), groups)
		var ue *upstream.Error
		require.ErrorAs(t, err, &ue)
		assert.Equal(t, http.StatusBadGateway, ue.Status)
		require.NotNil(t, res)
		one, qerr := c.Query(context.Background(), ids[0], groups[1].StartNs, groups[1].EndNs)
		require.NoError(t, qerr)
		require.NotEmpty(t, res.Records)
		assert.Equal(t, sortedRecords(one.Records), sortedRecords(res.ByTrace[ids[0]]), "parallel %d", parallel)
		for _, r := range res.Records {
			assert.Less(t, r.TimeNs, groups[1].EndNs, "parallel %d", parallel)
		}
	}
}

// The recorded Loki answers decode through the batch as through Query, and
// every line is the fixture trace's.
func TestQueryTracesRecordedFixtures(t *testing.T) {
	for _, tc := range recordedCases() {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := fixtureServer(t, tc.query, tc.file, http.StatusOK)
			c := newTestClient(t, srv.URL, func(s *models.LokiSettings) { s.TraceFilter = tc.filter })
			res, err := c.QueryTraces(context.Background(), []timeline.WindowGroup{{StartNs: fixtureStart, EndNs: fixtureEnd, TraceIDs: []string{strings.ToUpper(fixtureTraceID)}}})
			require.NoError(t, err)
			one, err := c.Query(context.Background(), fixtureTraceID, fixtureStart, fixtureEnd)
			require.NoError(t, err)
			assert.EqualValues(t, 2, calls.Load())
			require.Len(t, res.Records, len(tc.want))
			assert.Equal(t, one.Records, res.Records)
			assert.Equal(t, one.Records, res.ByTrace[fixtureTraceID])
			assert.Len(t, res.ByTrace, 1)
			for i, w := range tc.want {
				assert.Equal(t, w.ts, res.Records[i].TimeNs)
			}
		})
	}
}

// eachHexID finds an ID exactly when the text contains it.
func TestEachHexIDIsContains(t *testing.T) {
	ids := batchIDs(4)
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{ids[0], ids[1], ids[2], ids[3], ids[0][:20], ids[1][5:], strings.ToUpper(ids[2]), "0", "f", " ", "trace_id=", "-", "x"}
	for range 5000 {
		var b strings.Builder
		for range rng.IntN(8) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := b.String()
		found := map[string]bool{}
		eachHexID(s, func(id string) { found[id] = true })
		for _, id := range ids {
			require.Equal(t, strings.Contains(s, id), found[id], "%q in %q", id, s)
		}
	}
}
