package engine

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/traceweave/traceweave/pkg/loki"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

const testTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"

// traceStart is when the test trace's root span starts; it lasts one
// second, so with the default padding (30 s before, 2 min after) its log
// window is [traceStart-30s, traceStart+121s).
var traceStart = time.Date(2026, 11, 14, 9, 10, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return traceStart.Add(d) }

// window is the log window of the test trace.
var windowFrom, windowTo = at(-30 * time.Second), at(121 * time.Second)

// lineTimes are the test trace's Loki lines: some inside the window, some
// just outside each edge (the window's end is exclusive), some far outside.
var lineTimes = []time.Duration{
	-200 * time.Second, -31 * time.Second, -30 * time.Second, 500 * time.Millisecond,
	30 * time.Second, 60 * time.Second, 121*time.Second - 1, 121 * time.Second, 140 * time.Second,
}

// fakeTempo answers the v2 trace API with the test trace (two spans over
// [traceStart, traceStart+1s]), or 404 (not found) or a failure status.
type fakeTempo struct {
	*httptest.Server
	status int // 0: the trace; otherwise answered for every request
	// gate, when set, holds the answer until it is closed (or the request
	// ends), so a test can require Loki to be asked before Tempo answers.
	gate chan struct{}
	// entered receives once per request, when there is room.
	entered chan struct{}
}

func newFakeTempo(t *testing.T, status int) *fakeTempo {
	t.Helper()
	body := traceBody(t)
	f := &fakeTempo{status: status, entered: make(chan struct{}, 16)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case f.entered <- struct{}{}:
		default:
		}
		if f.gate != nil {
			select {
			case <-f.gate:
			case <-r.Context().Done():
				return
			}
		}
		if f.status != 0 {
			http.Error(w, "tempo says no", f.status)
			return
		}
		if r.URL.Path != "/api/v2/traces/"+testTraceID {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/protobuf")
		_, _ = w.Write(body)
	}))
	t.Cleanup(f.Close)
	return f
}

// traceBody is a Tempo v2 TraceByIDResponse holding the test trace.
func traceBody(t *testing.T) []byte {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "api")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	var tid pcommon.TraceID
	_, err := hex.Decode(tid[:], []byte(testTraceID))
	require.NoError(t, err)
	for i, s := range []struct{ start, end time.Duration }{{0, time.Second}, {100 * time.Millisecond, 500 * time.Millisecond}} {
		sp := spans.AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, byte(i + 1)})
		if i > 0 {
			sp.SetParentSpanID(pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, 1})
		}
		sp.SetName("GET /orders")
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(at(s.start)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(at(s.end)))
	}
	raw, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	body := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendBytes(body, raw)
}

// lokiRange is one query_range request's [start, end).
type lokiRange struct{ start, end time.Time }

func (r lokiRange) String() string {
	return fmt.Sprintf("[%s, %s)", r.start.Sub(traceStart), r.end.Sub(traceStart))
}

// fakeLoki answers query_range with the lines at lineTimes in [start, end),
// forward, at most limit, and records every request's range.
type fakeLoki struct {
	*httptest.Server
	fail  bool // answer 500 to every request
	stall bool // hold every request until it is cancelled
	// endInclusive answers [start, end] instead of Loki's [start, end).
	endInclusive bool
	entered      chan struct{} // receives once per request, when there is room
	mu           sync.Mutex
	ranges       []lokiRange
}

func newFakeLoki(t *testing.T) *fakeLoki {
	t.Helper()
	ts := make([]int64, len(lineTimes))
	for i, d := range lineTimes {
		ts[i] = at(d).UnixNano()
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	f := &fakeLoki{entered: make(chan struct{}, 16)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		start, err1 := strconv.ParseInt(q.Get("start"), 10, 64)
		end, err2 := strconv.ParseInt(q.Get("end"), 10, 64)
		limit, err3 := strconv.Atoi(q.Get("limit"))
		if err1 != nil || err2 != nil || err3 != nil || r.URL.Path != "/loki/api/v1/query_range" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.ranges = append(f.ranges, lokiRange{time.Unix(0, start).UTC(), time.Unix(0, end).UTC()})
		f.mu.Unlock()
		select {
		case f.entered <- struct{}{}:
		default:
		}
		if f.stall {
			<-r.Context().Done()
			return
		}
		if f.fail {
			http.Error(w, "loki is down", http.StatusInternalServerError)
			return
		}
		lo := sort.Search(len(ts), func(i int) bool { return ts[i] >= start })
		hi := sort.Search(len(ts), func(i int) bool { return ts[i] > end || (ts[i] == end && !f.endInclusive) })
		hi = min(hi, lo+limit)
		values := make([][2]string, 0, hi-lo)
		for _, x := range ts[lo:hi] {
			line := fmt.Sprintf("level=info msg=%q trace_id=%s", "line at "+time.Unix(0, x).Sub(traceStart).String(), testTraceID)
			values = append(values, [2]string{strconv.FormatInt(x, 10), line})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"status": "success",
			"data": map[string]any{"resultType": "streams", "result": []any{
				map[string]any{"stream": map[string]string{"service_name": "api"}, "values": values},
			}},
		})
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeLoki) requests() []lokiRange {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]lokiRange(nil), f.ranges...)
}

// newTestEngine builds an engine on the fakes with the default window and
// the given Loki cap. A page holds more than the test's lines, so each Loki
// query is one request.
func newTestEngine(t *testing.T, tempoURL, lokiURL string, maxTotal int) *Engine {
	t.Helper()
	raw, err := json.Marshal(map[string]any{
		"tempo": map[string]any{"url": tempoURL},
		"loki":  map[string]any{"url": lokiURL, "maxLines": 100, "maxTotalLines": maxTotal},
	})
	require.NoError(t, err)
	cfg, err := models.LoadSettings(raw, nil)
	require.NoError(t, err)
	e, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(e.Close)
	return e
}

func runQuery(t *testing.T, e *Engine, from, to time.Time) *Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := e.Run(ctx, Request{TraceID: testTraceID, From: from, To: to})
	require.NoError(t, err)
	return out
}

// lokiView is what a query's Loki part produced: the lines (offset from the
// trace start), the notices and the statuses, errors as text.
type lokiView struct {
	Lines    []string
	Notices  []Notice
	Statuses []string
}

func viewOf(out *Outcome) lokiView {
	var v lokiView
	for _, l := range out.Model.Logs {
		v.Lines = append(v.Lines, time.Unix(0, l.TimeNs).Sub(traceStart).String())
	}
	v.Notices = out.Notices
	for _, s := range out.Statuses {
		v.Statuses = append(v.Statuses, fmt.Sprintf("%s records=%d err=%v", s.Source, s.Records, s.Err))
	}
	return v
}

// longFrom and longTo are an hour-long range: no early query.
var longFrom, longTo = traceStart.Add(-30 * time.Minute), traceStart.Add(30 * time.Minute)

// latePath runs the query over the long range, the flow without an early
// query, and checks it asked Loki once over the window.
func latePath(t *testing.T, maxTotal int) lokiView {
	t.Helper()
	lk := newFakeLoki(t)
	e := newTestEngine(t, newFakeTempo(t, 0).URL, lk.URL, maxTotal)
	out := runQuery(t, e, longFrom, longTo)
	require.Equal(t, []lokiRange{{windowFrom, windowTo}}, lk.requests(), "the late path asks the window only")
	return viewOf(out)
}

func sortRanges(rs []lokiRange) []lokiRange {
	sort.Slice(rs, func(i, j int) bool { return rs[i].start.Before(rs[j].start) })
	return rs
}

func TestEarlyLokiShortRangeContainingWindow(t *testing.T) {
	want := latePath(t, 0)
	require.Equal(t, []string{"-30s", "500ms", "30s", "1m0s", "2m0.999999999s"}, want.Lines)

	lk := newFakeLoki(t)
	tp := newFakeTempo(t, 0)
	tp.gate = make(chan struct{})
	go func() {
		// Tempo answers only once Loki has been asked: the early query runs
		// while Tempo is answering, not after.
		select {
		case <-lk.entered:
		case <-time.After(10 * time.Second):
		}
		close(tp.gate)
	}()
	e := newTestEngine(t, tp.URL, lk.URL, 0)
	from, to := at(-150*time.Second), at(150*time.Second)
	out := runQuery(t, e, from, to)

	assert.Equal(t, []lokiRange{{from, to}}, lk.requests(), "one query, over the request's range")
	assert.Equal(t, want, viewOf(out), "the same lines, notices and statuses as Loki over the window")
	assert.True(t, windowFrom.Equal(out.WindowFrom), "window from %v", out.WindowFrom)
	assert.True(t, windowTo.Equal(out.WindowTo), "window to %v", out.WindowTo)
}

func TestEarlyLokiAsksOnlyTheUncoveredParts(t *testing.T) {
	want := latePath(t, 0)
	for _, tc := range []struct {
		name     string
		from, to time.Duration
		parts    []lokiRange // the queries besides the early one
	}{
		{"trace past To", -60 * time.Second, 60 * time.Second, []lokiRange{{at(60 * time.Second), windowTo}}},
		{"trace before From", 30 * time.Second, 270 * time.Second, []lokiRange{{windowFrom, at(30 * time.Second)}}},
		{"window around the range", -10 * time.Second, 10 * time.Second,
			[]lokiRange{{windowFrom, at(-10 * time.Second)}, {at(10 * time.Second), windowTo}}},
	} {
		// Lines sit on To (1m0s) in the first case, on From (30s) in the
		// second, and on both ends of the window: each is in the answer
		// once, also from a Loki that (unlike Loki) returned the lines of
		// its end instant.
		for _, inclusive := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/endInclusive=%v", tc.name, inclusive), func(t *testing.T) {
				lk := newFakeLoki(t)
				lk.endInclusive = inclusive
				e := newTestEngine(t, newFakeTempo(t, 0).URL, lk.URL, 0)
				from, to := at(tc.from), at(tc.to)
				out := runQuery(t, e, from, to)
				wantRanges := sortRanges(append([]lokiRange{{from, to}}, tc.parts...))
				assert.Equal(t, wantRanges, sortRanges(lk.requests()))
				assert.Equal(t, want, viewOf(out))
			})
		}
	}
}

func TestEarlyLokiOutsideTheWindowIsDropped(t *testing.T) {
	want := latePath(t, 0)
	lk := newFakeLoki(t)
	e := newTestEngine(t, newFakeTempo(t, 0).URL, lk.URL, 0)
	// The range holds the line at 2m20s, which is not the trace's window.
	from, to := at(3*time.Minute), at(7*time.Minute)
	out := runQuery(t, e, from, to)
	assert.Equal(t, want, viewOf(out))
	rs := lk.requests()
	assert.Contains(t, rs, lokiRange{windowFrom, windowTo})
	// The early query is cancelled once the window is known; it may have
	// reached Loki before.
	assert.Subset(t, []lokiRange{{from, to}, {windowFrom, windowTo}}, rs)
}

func TestLongRangeDoesNotStartEarly(t *testing.T) {
	lk := newFakeLoki(t)
	e := newTestEngine(t, newFakeTempo(t, 0).URL, lk.URL, 0)
	// Just over 2 × (30 s + 2 min).
	from, to := at(-150*time.Second), at(150*time.Second+1)
	runQuery(t, e, from, to)
	assert.Equal(t, []lokiRange{{windowFrom, windowTo}}, lk.requests())
}

func TestEarlyLokiIsTheAnswerWithoutATrace(t *testing.T) {
	for _, tc := range []struct {
		name        string
		tempoStatus int
		notice      string
	}{
		{"not found", http.StatusNotFound, "trace " + testTraceID + " not found in Tempo"},
		{"Tempo fails", http.StatusInternalServerError, "Tempo failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lk := newFakeLoki(t)
			e := newTestEngine(t, newFakeTempo(t, tc.tempoStatus).URL, lk.URL, 0)
			from, to := at(-40*time.Second), at(125*time.Second)
			out := runQuery(t, e, from, to)
			assert.Equal(t, []lokiRange{{from, to}}, lk.requests(), "no second query")
			assert.Equal(t, []string{"-31s", "-30s", "500ms", "30s", "1m0s", "2m0.999999999s", "2m1s"}, viewOf(out).Lines)
			assert.Equal(t, from, out.WindowFrom)
			require.NotEmpty(t, out.Notices)
			assert.Contains(t, out.Notices[0].Text, tc.notice)
		})
	}
}

func TestEarlyLokiFailureIsReportedAsLate(t *testing.T) {
	view := func(from, to time.Time) (lokiView, int) {
		lk := newFakeLoki(t)
		lk.fail = true
		e := newTestEngine(t, newFakeTempo(t, 0).URL, lk.URL, 0)
		out := runQuery(t, e, from, to)
		v := viewOf(out)
		v.Lines = nil // the trace's spans only
		return v, len(lk.requests())
	}
	want, _ := view(longFrom, longTo)
	require.Contains(t, want.Notices, Notice{NoticeWarning, "Loki failed: loki /loki/api/v1/query_range: HTTP 500 Internal Server Error: loki is down"})
	got, n := view(at(-150*time.Second), at(150*time.Second))
	assert.Equal(t, want, got)
	assert.Equal(t, 1, n, "the failed early query is not asked again")
}

func TestEarlyLokiKeepsTheCap(t *testing.T) {
	// Three lines: the early query [-60s, 30s) holds -31s, -30s and 500ms,
	// not truncated; the window keeps two of them, the part after To adds
	// 30s, 1m0s and 2m0.999999999s, and the cap keeps the first three of
	// the window, as Loki over the window does.
	want := latePath(t, 3)
	require.Equal(t, []string{"-30s", "500ms", "30s"}, want.Lines)
	require.Contains(t, want.Notices, Notice{NoticeWarning, "Loki: result truncated at 3 lines (loki.maxTotalLines)"})

	lk := newFakeLoki(t)
	e := newTestEngine(t, newFakeTempo(t, 0).URL, lk.URL, 3)
	from, to := at(-60*time.Second), at(30*time.Second)
	out := runQuery(t, e, from, to)
	assert.Equal(t, want, viewOf(out))
	assert.Equal(t, sortRanges([]lokiRange{{from, to}, {to, windowTo}}), sortRanges(lk.requests()))
}

func TestTruncatedEarlyLokiAsksTheWindow(t *testing.T) {
	// Two lines: the early query [-60s, 60s) is truncated after -31s and
	// -30s, so the window's lines past them are unknown: the window is asked.
	want := latePath(t, 2)
	require.Equal(t, []string{"-30s", "500ms"}, want.Lines)

	lk := newFakeLoki(t)
	e := newTestEngine(t, newFakeTempo(t, 0).URL, lk.URL, 2)
	from, to := at(-60*time.Second), at(60*time.Second)
	out := runQuery(t, e, from, to)
	assert.Equal(t, want, viewOf(out))
	// The part after To, [60s, 2m1s), may have been asked before the early
	// answer came in; cancelled, it may or may not have reached Loki.
	rs := lk.requests()
	assert.Contains(t, rs, lokiRange{from, to})
	assert.Contains(t, rs, lokiRange{windowFrom, windowTo})
	assert.Subset(t, []lokiRange{{from, to}, {windowFrom, windowTo}, {to, windowTo}}, rs)
}

func TestCancelStopsEarlyLoki(t *testing.T) {
	lk := newFakeLoki(t)
	lk.stall = true
	tp := newFakeTempo(t, 0)
	tp.gate = make(chan struct{}) // never opened: Tempo stalls too
	before := goleak.IgnoreCurrent()
	e := newTestEngine(t, tp.URL, lk.URL, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := e.Run(ctx, Request{TraceID: testTraceID, From: at(-time.Minute), To: at(time.Minute)})
		done <- err
	}()
	// Both requests in flight: a request cancelled while its connection is
	// still being dialled leaves that connection to the transport's idle
	// pool, which is not the engine's doing.
	for _, ch := range []chan struct{}{lk.entered, tp.entered} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("the query never reached Tempo and the early Loki query")
		}
	}
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the cancellation")
	}
	e.Close()
	tp.CloseClientConnections()
	lk.CloseClientConnections()
	goleak.VerifyNone(t, before, goleak.IgnoreAnyFunction("net/http.(*conn).serve"))
}

func records(ns ...int64) []timeline.LogRecord {
	out := make([]timeline.LogRecord, len(ns))
	for i, n := range ns {
		out[i] = timeline.LogRecord{TimeNs: n, Body: strconv.FormatInt(n, 10)}
	}
	return out
}

func timesOf(recs []timeline.LogRecord) []int64 {
	out := []int64{}
	for _, r := range recs {
		out = append(out, r.TimeNs)
	}
	return out
}

func TestWithin(t *testing.T) {
	recs := records(1, 2, 2, 3, 5)
	assert.Equal(t, []int64{2, 2, 3}, timesOf(within(recs, 2, 5)), "from inclusive, to exclusive")
	assert.Equal(t, []int64{1, 2, 2, 3, 5}, timesOf(within(recs, 0, 6)))
	assert.Empty(t, within(recs, 6, 9))
	assert.Empty(t, within(recs, 0, 1))
	assert.Empty(t, within(nil, 0, 1))
}

func TestJoinResults(t *testing.T) {
	parts := func() []*loki.Result {
		return []*loki.Result{{Records: records(1, 2), Pages: 1}, {Records: records(3), Pages: 2}, {Records: records(4, 5), Pages: 1}}
	}
	r := joinResults(5, parts())
	assert.Equal(t, []int64{1, 2, 3, 4, 5}, timesOf(r.Records))
	assert.False(t, r.Truncated, "exactly the cap and nothing more is not truncated")
	assert.Equal(t, 4, r.Pages)

	r = joinResults(3, parts())
	assert.Equal(t, []int64{1, 2, 3}, timesOf(r.Records))
	assert.True(t, r.Truncated, "lines past the cap")

	r = joinResults(4, parts())
	assert.Equal(t, []int64{1, 2, 3, 4}, timesOf(r.Records), "cut inside a part")
	assert.True(t, r.Truncated)

	// A part truncated by the cap holds the first lines of its range: what
	// follows it is past the cut even when there is room.
	r = joinResults(3, []*loki.Result{{Records: records(1, 2), Truncated: true}, {Records: records(3)}})
	assert.Equal(t, []int64{1, 2}, timesOf(r.Records))
	assert.True(t, r.Truncated)

	r = joinResults(3, []*loki.Result{{Records: records(1)}, {Records: records(2), Truncated: true}, {}})
	assert.Equal(t, []int64{1, 2}, timesOf(r.Records))
	assert.True(t, r.Truncated)
}

func TestStartsEarly(t *testing.T) {
	e := newTestEngine(t, "http://tempo.invalid", "http://loki.invalid", 0)
	assert.Equal(t, models.DefaultLokiMaxTotal, e.maxTotalLines())
	limit := 2 * (models.DefaultWindowBefore + models.DefaultWindowAfter)
	for _, tc := range []struct {
		from, to time.Time
		want     bool
	}{
		{at(0), at(limit), true},
		{at(0), at(limit + 1), false},
		{at(0), at(time.Nanosecond), true},
		{at(0), at(0), false},
		{at(time.Second), at(0), false},
		{time.Time{}, at(0), false},
		{at(0), time.Time{}, false},
	} {
		assert.Equal(t, tc.want, e.startsEarly(Request{From: tc.from, To: tc.to}), "%v", tc)
	}
}
