package loki

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/internal/upstream"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

const pageBase = int64(1795710000000000000)

// genLines makes n lines over three streams, one per microsecond, except
// that lines [sameFrom, sameFrom+sameN) all share the timestamp of line sameFrom.
func genLines(n, sameFrom, sameN int) []fakeLine {
	streams := []map[string]string{
		{"service_name": "go-proxy", "env": "test"},
		{"service_name": "go-api", "env": "test"},
		{"service_name": "rails-api", "env": "test"},
	}
	lines := make([]fakeLine, n)
	for i := range lines {
		ts := pageBase + int64(i)*1000
		if i >= sameFrom && i < sameFrom+sameN {
			ts = pageBase + int64(sameFrom)*1000
		}
		lines[i] = fakeLine{
			stream: streams[i%3],
			sm:     map[string]string{"trace_id": fixtureTraceID, "span_id": fmt.Sprintf("%016x", i%7+1), "severity_text": "INFO"},
			ts:     ts,
			line:   fmt.Sprintf("line %05d", i),
		}
	}
	return lines
}

// requireEachOnce checks that records hold every line of want exactly once.
func requireEachOnce(t *testing.T, want []fakeLine, got []timeline.LogRecord) {
	t.Helper()
	count := map[string]int{}
	for _, r := range got {
		count[r.Body]++
	}
	for _, l := range want {
		require.Equal(t, 1, count[l.line], "%s", l.line)
	}
	require.Len(t, got, len(want))
	for i := 1; i < len(got); i++ {
		require.LessOrEqual(t, got[i-1].TimeNs, got[i].TimeNs, "records are in time order")
	}
}

func TestPaginationSharedTimestampAcrossPageEdge(t *testing.T) {
	query := BuildQueries(models.DefaultLokiSelector, models.TraceFilterStructured, fixtureTraceID)[0]
	// 300 lines share one timestamp, from line 4850: the first page (limit
	// 5000) ends in the middle of them. The rest is read page by page, or in
	// two chunks at once, the first starting at the shared timestamp.
	lines := genLines(12000, 4850, 300)
	for _, parallel := range []int{1, 4} {
		t.Run(fmt.Sprintf("parallel=%d", parallel), func(t *testing.T) {
			f := &fakeLoki{byQuery: map[string][]fakeLine{query: lines}, maxEntries: 5000, wantLimit: 5000}
			srv := startFake(t, f)
			c := newTestClient(t, srv.URL, func(s *models.LokiSettings) {
				s.TraceFilter = models.TraceFilterStructured
				s.MaxLines = 5000
				s.ParallelQueries = parallel
			})
			res, err := c.Query(context.Background(), fixtureTraceID, pageBase, pageBase+int64(len(lines))*1000)
			require.NoError(t, err)
			requireEachOnce(t, lines, res.Records)
			assert.False(t, res.Truncated)
			assert.Empty(t, res.Notices)
			assert.Equal(t, 3, res.Pages)
			reqs := f.log.all()
			require.Len(t, reqs, 3)
			shared := strconv.FormatInt(pageBase+4850*1000, 10)
			var starts []string
			for _, r := range reqs[1:] {
				starts = append(starts, r.URL.Query().Get("start"))
			}
			assert.Contains(t, starts, shared, "a page after the first starts at the shared timestamp")
			ids := map[string]bool{}
			for _, r := range res.Records {
				require.False(t, ids[r.ID], "IDs are unique")
				ids[r.ID] = true
			}
		})
	}
}

func TestPaginationWholePageOneTimestamp(t *testing.T) {
	query := BuildQueries(models.DefaultLokiSelector, models.TraceFilterStructured, fixtureTraceID)[0]
	// 250 lines at one instant with pages of 100: the instant is re-read
	// alone with limit 200, then 400, which holds it.
	lines := genLines(1000, 300, 250)
	f := &fakeLoki{byQuery: map[string][]fakeLine{query: lines}, maxEntries: 5000, wantLimit: 100}
	srv := startFake(t, f)
	c := newTestClient(t, srv.URL, func(s *models.LokiSettings) { s.TraceFilter = models.TraceFilterStructured })
	res, err := c.Query(context.Background(), fixtureTraceID, pageBase, pageBase+int64(len(lines))*1000)
	require.NoError(t, err)
	requireEachOnce(t, lines, res.Records)
	assert.Empty(t, res.Notices)
	assert.False(t, res.Truncated)
}

func TestPaginationInstantBeyondLokiLimit(t *testing.T) {
	query := BuildQueries(models.DefaultLokiSelector, models.TraceFilterStructured, fixtureTraceID)[0]
	// Loki refuses limits above 150, and 250 lines share an instant: only
	// the first 100 of them can be read. The query must end, say so, and
	// return every other line once.
	lines := genLines(1000, 300, 250)
	f := &fakeLoki{byQuery: map[string][]fakeLine{query: lines}, maxEntries: 150}
	srv := startFake(t, f)
	c := newTestClient(t, srv.URL, func(s *models.LokiSettings) { s.TraceFilter = models.TraceFilterStructured })
	res, err := c.Query(context.Background(), fixtureTraceID, pageBase, pageBase+int64(len(lines))*1000)
	require.NoError(t, err)
	require.Len(t, res.Notices, 1)
	assert.Contains(t, res.Notices[0], "more than 100 lines share the timestamp")
	assert.Len(t, res.Records, 1000-150)
	seen := map[string]int{}
	for _, r := range res.Records {
		seen[r.Body]++
	}
	for i, l := range lines {
		if i < 300 || i >= 550 {
			assert.Equal(t, 1, seen[l.line], l.line)
		} else {
			assert.LessOrEqual(t, seen[l.line], 1, l.line)
		}
	}
	assert.Less(t, res.Pages, 20, "no endless loop")
}

func TestTruncation(t *testing.T) {
	query := BuildQueries(models.DefaultLokiSelector, models.TraceFilterStructured, fixtureTraceID)[0]
	lines := genLines(12000, 4850, 300)
	f := &fakeLoki{byQuery: map[string][]fakeLine{query: lines}, maxEntries: 5000}
	srv := startFake(t, f)
	for _, tc := range []struct {
		maxTotal, want int
		truncated      bool
	}{
		{6000, 6000, true},
		{5000, 5000, true}, // a full page at the cap: Loki has more
		{12000, 12000, false},
		{20000, 12000, false},
	} {
		c := newTestClient(t, srv.URL, func(s *models.LokiSettings) {
			s.TraceFilter = models.TraceFilterStructured
			s.MaxLines = 5000
			s.MaxTotalLines = tc.maxTotal
		})
		res, err := c.Query(context.Background(), fixtureTraceID, pageBase, pageBase+int64(len(lines))*1000)
		require.NoError(t, err)
		assert.Len(t, res.Records, tc.want, "maxTotal %d", tc.maxTotal)
		assert.Equal(t, tc.truncated, res.Truncated, "maxTotal %d", tc.maxTotal)
		unique := map[string]bool{}
		for _, r := range res.Records {
			unique[r.Body] = true
		}
		assert.Len(t, unique, tc.want, "no line twice")
	}
}

func TestTruncationRecordedFixture(t *testing.T) {
	query := BuildQueries(models.DefaultLokiSelector, models.TraceFilterStructured, fixtureTraceID)[0]
	for _, tc := range []struct {
		maxTotal, want int
		truncated      bool
	}{{7, 7, true}, {9, 9, false}} {
		srv, _ := fixtureServer(t, query, "loki_query_range_sm_filter_categorized.json", 200)
		c := newTestClient(t, srv.URL, func(s *models.LokiSettings) {
			s.TraceFilter = models.TraceFilterStructured
			s.MaxTotalLines = tc.maxTotal
		})
		res, err := c.Query(context.Background(), fixtureTraceID, fixtureStart, fixtureEnd)
		require.NoError(t, err)
		assert.Len(t, res.Records, tc.want)
		assert.Equal(t, tc.truncated, res.Truncated)
	}
}

// TestUnionOfQueries checks that when a filter needs several expressions,
// lines found by more than one are returned once.
func TestUnionOfQueries(t *testing.T) {
	a, b := "{a=\"1\"} |= \"x\"", "{a=\"1\"} | trace_id=\"x\""
	lines := genLines(30, 0, 0)
	f := &fakeLoki{byQuery: map[string][]fakeLine{a: lines[:20], b: lines[10:]}}
	srv := startFake(t, f)
	c := newTestClient(t, srv.URL, nil)
	res, _, err := c.run(context.Background(), passesOver([]string{a, b}, pageBase, pageBase+int64(len(lines))*1000))
	require.NoError(t, err)
	requireEachOnce(t, lines, res.Records)
	assert.Equal(t, 2, res.Pages)
}

func TestErrorMidwayKeepsEarlierPages(t *testing.T) {
	query := BuildQueries(models.DefaultLokiSelector, models.TraceFilterStructured, fixtureTraceID)[0]
	lines := genLines(250, 0, 0)
	f := &fakeLoki{byQuery: map[string][]fakeLine{query: lines}, failAfter: 1}
	srv := startFake(t, f)
	// Page by page the second request fails; with parallel queries the two
	// chunks of the rest are asked at once and both fail.
	for parallel, pages := range map[int]int{1: 2, 4: 3} {
		f.log = requestLog{}
		c := newTestClient(t, srv.URL, func(s *models.LokiSettings) {
			s.TraceFilter = models.TraceFilterStructured
			s.ParallelQueries = parallel
		})
		res, err := c.Query(context.Background(), fixtureTraceID, pageBase, pageBase+int64(len(lines))*1000)
		var ue *upstream.Error
		require.ErrorAs(t, err, &ue)
		assert.Equal(t, 502, ue.Status)
		require.NotNil(t, res)
		assert.Len(t, res.Records, 100, "the first page is kept")
		assert.Equal(t, pages, res.Pages, "parallel %d", parallel)
	}
}

// TestSortByTime checks the page sort: time order, equal times in page
// order (Loki's stream grouping), a sorted page returned as is.
func TestSortByTime(t *testing.T) {
	mk := func(ns int64, body string) entry { return entry{rec: timeline.LogRecord{TimeNs: ns, Body: body}} }
	// Two streams as Loki groups them: each in time order, one after the other.
	page := []entry{mk(10, "a1"), mk(20, "a2"), mk(30, "a3"), mk(5, "b1"), mk(20, "b2"), mk(30, "b3")}
	got := sortByTime(page)
	var bodies []string
	for _, e := range got {
		bodies = append(bodies, e.rec.Body)
	}
	assert.Equal(t, []string{"b1", "a1", "a2", "b2", "a3", "b3"}, bodies)
	assert.Equal(t, "a1", page[0].rec.Body, "the page itself is not reordered")

	sorted := []entry{mk(1, "x"), mk(1, "y"), mk(2, "z")}
	assert.Same(t, &sorted[0], &sortByTime(sorted)[0], "a sorted page is not copied")
	assert.Empty(t, sortByTime(nil))
}
