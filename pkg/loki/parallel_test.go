package loki

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/internal/upstream"
	"github.com/traceweave/traceweave/pkg/models"
)

// queryView is what a Query returned, for comparing two ways of reading.
type queryView struct {
	IDs       []string
	Times     []int64
	Truncated bool
	Notices   []string
	Err       string
}

func viewQuery(res *Result, err error) queryView {
	v := queryView{}
	if err != nil {
		v.Err = err.Error()
	}
	if res != nil {
		for _, r := range res.Records {
			v.IDs = append(v.IDs, r.ID)
			v.Times = append(v.Times, r.TimeNs)
		}
		v.Truncated, v.Notices = res.Truncated, res.Notices
	}
	return v
}

// assertSameView compares two reads: the same lines (at equal timestamps
// their order follows the streams of the page they came in, so it depends
// on where pages end) at the same times, reporting the first difference
// instead of thousands of IDs. A read cut at the cap inside a group of lines
// sharing the cut's timestamp may keep other lines of that group.
func assertSameView(t *testing.T, want, got queryView, what string) {
	t.Helper()
	assert.Equal(t, want.Err, got.Err, what)
	assert.Equal(t, want.Truncated, got.Truncated, "%s: truncated", what)
	assert.Equal(t, want.Notices, got.Notices, "%s: notices", what)
	if !assert.Equal(t, len(want.IDs), len(got.IDs), "%s: lines", what) {
		return
	}
	for i := range want.Times {
		if want.Times[i] != got.Times[i] {
			t.Errorf("%s: line %d is at %d, want %d", what, i, got.Times[i], want.Times[i])
			return
		}
	}
	cut := int64(-1)
	if want.Truncated && len(want.Times) > 0 {
		cut = want.Times[len(want.Times)-1]
	}
	count := map[string]int{}
	for i, id := range want.IDs {
		if want.Times[i] != cut {
			count[id]++
		}
	}
	for i, id := range got.IDs {
		if got.Times[i] != cut {
			count[id]--
		}
	}
	for id, n := range count {
		if n != 0 {
			t.Errorf("%s: line %s found %+d times more page by page", what, id, n)
			return
		}
	}
}

// burstyLines are n lines whose density changes (so the first page's
// density misjudges the rest), with instants shared by many lines, some of
// them on the edges of the slots the rest is cut in.
func burstyLines(n int) []fakeLine {
	lines := genLines(n, 0, 0)
	for i := range lines {
		switch {
		case i < n/5: // dense start
			lines[i].ts = pageBase + int64(i)*500
		case i < n/2: // sparse middle
			lines[i].ts = pageBase + int64(i)*3_000
		default: // a burst: 40 lines per instant
			lines[i].ts = pageBase + int64(n/2)*3_000 + int64(i/40)*1_000
		}
	}
	return lines
}

// Reading a large result in slots at once returns what reading it page by
// page returns: the same lines at the same times, the same cut at the cap,
// the same notices, for Lokis with exclusive and inclusive ends, with one
// query and with the union of two.
func TestParallelSlotsReadWhatPagesRead(t *testing.T) {
	structured := BuildQueries(models.DefaultLokiSelector, models.TraceFilterStructured, fixtureTraceID)[0]
	other := `{service_name=~".+"} |= "x"`
	uniform, bursty := genLines(1000, 400, 30), burstyLines(1000)
	// rising lines are sparse for the first page and dense after: the
	// first page underestimates the rest, which a cap then cuts.
	rising := genLines(1000, 0, 0)
	for i := range rising {
		if i < 100 { // one line a microsecond
			rising[i].ts = pageBase + int64(i)*1_000
		} else { // three
			rising[i].ts = pageBase + 100_000 + int64(i-100)*333
		}
	}
	for _, tc := range []struct {
		name         string
		lines        []fakeLine
		maxTotal     int
		endInclusive bool
		union        bool
		maxEntries   int
	}{
		{name: "all lines", lines: uniform, maxTotal: 50_000},
		{name: "bursts", lines: bursty, maxTotal: 50_000},
		{name: "inclusive end", lines: bursty, maxTotal: 50_000, endInclusive: true},
		{name: "cap past the first page", lines: uniform, maxTotal: 345},
		{name: "cap below the estimate", lines: uniform, maxTotal: 999},
		{name: "cap met inside the slots", lines: rising, maxTotal: 600},
		{name: "cap at the lines", lines: rising, maxTotal: 1_000},
		{name: "union of two queries", lines: bursty, maxTotal: 50_000, union: true},
		{name: "union with a cap", lines: bursty, maxTotal: 700, union: true},
		{name: "instants beyond Loki's limit", lines: genLines(1000, 300, 250), maxTotal: 50_000, maxEntries: 150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			byQuery := map[string][]fakeLine{structured: tc.lines}
			queries := []string{structured}
			if tc.union {
				byQuery[structured] = tc.lines[:700]
				byQuery[other] = tc.lines[300:]
				queries = append(queries, other)
			}
			end := tc.lines[len(tc.lines)-1].ts + 20_000
			read := func(parallel int) (queryView, int) {
				f := &fakeLoki{byQuery: byQuery, endInclusive: tc.endInclusive, maxEntries: tc.maxEntries}
				srv := startFake(t, f)
				c := newTestClient(t, srv.URL, func(s *models.LokiSettings) {
					s.MaxTotalLines = tc.maxTotal
					s.ParallelQueries = parallel
				})
				res, _, err := c.run(context.Background(), passesOver(queries, pageBase, end))
				slotted := 0 // requests ending inside the range: slots
				for _, r := range f.log.all() {
					if e := r.URL.Query().Get("end"); e != fmt.Sprint(end) && e != "" {
						if mustInt(e)-1 != mustInt(r.URL.Query().Get("start")) {
							slotted++ // not an instant re-read [ts, ts+1)
						}
					}
				}
				return viewQuery(res, err), slotted
			}
			want, seqChunked := read(1)
			require.Empty(t, want.Err)
			require.NotEmpty(t, want.IDs)
			require.Zero(t, seqChunked, "page by page asks the whole rest")
			for _, parallel := range []int{2, 4, 16} {
				got, slotted := read(parallel)
				assertSameView(t, want, got, fmt.Sprintf("parallel %d", parallel))
				assert.Positive(t, slotted, "parallel %d: the rest was read in slots", parallel)
			}
		})
	}
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// The slots are asked at once: the fake holds every answer after the first
// until four slots' requests are in, which only concurrent
// requests can satisfy (the timeout only keeps a broken client from hanging
// the test).
func TestParallelSlotsAreAskedAtOnce(t *testing.T) {
	query := BuildQueries(models.DefaultLokiSelector, models.TraceFilterStructured, fixtureTraceID)[0]
	lines := genLines(1000, 0, 0) // 100-line pages: the first page leaves nine
	var (
		mu      sync.Mutex
		n       int
		allIn   = make(chan struct{})
		timeout = time.After(10 * time.Second)
	)
	f := &fakeLoki{byQuery: map[string][]fakeLine{query: lines}}
	f.gate = func(r *http.Request) {
		mu.Lock()
		n++
		if n == 5 {
			close(allIn)
		}
		first := n == 1
		mu.Unlock()
		if first {
			return
		}
		select {
		case <-allIn:
		case <-timeout:
		}
	}
	srv := startFake(t, f)
	c := newTestClient(t, srv.URL, func(s *models.LokiSettings) {
		s.TraceFilter = models.TraceFilterStructured
		s.ParallelQueries = 4
	})
	res, err := c.Query(context.Background(), fixtureTraceID, pageBase, pageBase+int64(len(lines))*1000)
	require.NoError(t, err)
	requireEachOnce(t, lines, res.Records)
	select {
	case <-allIn:
	default:
		t.Fatal("four slots were not asked at once")
	}
	// The first page's lines cover 99 µs: the other 901 lines are read in
	// ten slots of 99 µs (the last one 10 µs), one page each.
	assert.Equal(t, 1+10, res.Pages)
}

// A slot that fails ends the read there, as a failed page does: the lines
// before it are kept, in time order and without a gap, with the error; the
// slots after it are not waited for.
func TestParallelSlotFailureKeepsTheLinesBefore(t *testing.T) {
	query := BuildQueries(models.DefaultLokiSelector, models.TraceFilterStructured, fixtureTraceID)[0]
	lines := genLines(1000, 0, 0)
	f := &fakeLoki{byQuery: map[string][]fakeLine{query: lines}, failFrom: pageBase + 500_000}
	srv := startFake(t, f)
	c := newTestClient(t, srv.URL, func(s *models.LokiSettings) {
		s.TraceFilter = models.TraceFilterStructured
		s.ParallelQueries = 4
	})
	res, err := c.Query(context.Background(), fixtureTraceID, pageBase, pageBase+int64(len(lines))*1000)
	var ue *upstream.Error
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, 502, ue.Status)
	require.NotNil(t, res)
	require.GreaterOrEqual(t, len(res.Records), 400, "the slots before the failure are kept")
	requireEachOnce(t, lines[:len(res.Records)], res.Records)
}

// A trace's lines fill a second of a window that runs on for minutes: the
// slots follow the lines and the empty rest is asked once, so the requests
// stay about those of page by page, even with tiny pages.
func TestParallelSlotsStopAtTheEmptyTail(t *testing.T) {
	query := BuildQueries(models.DefaultLokiSelector, models.TraceFilterStructured, fixtureTraceID)[0]
	lines := genLines(400, 0, 0) // 400 µs of lines
	end := pageBase + int64(3*time.Minute)
	for _, maxLines := range []int{2, 10, 100} {
		requests := map[int]int{}
		for _, parallel := range []int{1, 4} {
			f := &fakeLoki{byQuery: map[string][]fakeLine{query: lines}}
			srv := startFake(t, f)
			c := newTestClient(t, srv.URL, func(s *models.LokiSettings) {
				s.TraceFilter = models.TraceFilterStructured
				s.MaxLines = maxLines
				s.ParallelQueries = parallel
			})
			res, err := c.Query(context.Background(), fixtureTraceID, pageBase, end)
			require.NoError(t, err)
			requireEachOnce(t, lines, res.Records)
			requests[parallel] = len(f.log.all())
		}
		t.Logf("maxLines %d: %d requests page by page, %d in parallel slots", maxLines, requests[1], requests[4])
		assert.LessOrEqual(t, requests[4], requests[1]+4+1, "maxLines %d", maxLines)
	}
}
