package sharedrun

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/engine"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// fakeEngine counts runs and holds each one until released, so a test
// decides when a run ends; nothing here depends on timing.
type fakeEngine struct {
	mu       sync.Mutex
	runs     int
	release  chan struct{}
	result   func(req engine.Request) (*engine.Outcome, error)
	canceled chan engine.Request
}

func newFake() *fakeEngine {
	return &fakeEngine{release: make(chan struct{}), canceled: make(chan engine.Request, 16),
		result: func(req engine.Request) (*engine.Outcome, error) {
			return &engine.Outcome{Model: &timeline.Model{TraceID: req.TraceID}}, nil
		}}
}

func (f *fakeEngine) run(ctx context.Context, req engine.Request) (*engine.Outcome, error) {
	f.mu.Lock()
	f.runs++
	f.mu.Unlock()
	select {
	case <-f.release:
	case <-ctx.Done():
		f.canceled <- req
		return nil, ctx.Err()
	}
	return f.result(req)
}

func (f *fakeEngine) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs
}

// clock is a manual clock for the ttl.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newGroup(f *fakeEngine, ttl time.Duration, maxBytes int64) (*Group, *clock) {
	g := New(f.run, ttl, maxBytes)
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	g.now = c.now
	return g, c
}

// waitWaiters blocks until n queries wait for the run of req.
func waitWaiters(t *testing.T, g *Group, req engine.Request, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		c := g.inflight[keyOf(req)]
		return c != nil && c.waiters == n
	}, 10*time.Second, time.Millisecond)
}

var trace1 = engine.Request{TraceID: strings.Repeat("ab", 16), Sources: []string{"tempo", "loki"},
	From: time.Unix(1_700_000_000, 0), To: time.Unix(1_700_000_300, 0)}

type answer struct {
	res Result
	err error
}

func doAsync(g *Group, ctx context.Context, req engine.Request) chan answer {
	ch := make(chan answer, 1)
	go func() {
		res, err := g.Do(ctx, req)
		ch <- answer{res, err}
	}()
	return ch
}

func TestConcurrentQueriesShareOneRun(t *testing.T) {
	f := newFake()
	g, _ := newGroup(f, time.Minute, 1<<30)
	var chans []chan answer
	for range 5 {
		chans = append(chans, doAsync(g, t.Context(), trace1))
	}
	waitWaiters(t, g, trace1, 5)
	close(f.release)
	var first *engine.Outcome
	vias := map[string]int{}
	for _, ch := range chans {
		a := <-ch
		require.NoError(t, a.err)
		if first == nil {
			first = a.res.Outcome
		}
		assert.Same(t, first, a.res.Outcome, "every panel reads the one run's outcome")
		vias[a.res.Via]++
	}
	assert.Equal(t, 1, f.count())
	assert.Equal(t, int64(1), g.Runs())
	assert.Equal(t, map[string]int{ViaRun: 1, ViaInFlight: 4}, vias)
}

func TestSourcesOrderDoesNotMatterButRangeDoes(t *testing.T) {
	f := newFake()
	close(f.release)
	g, _ := newGroup(f, time.Minute, 1<<30)
	_, err := g.Do(t.Context(), trace1)
	require.NoError(t, err)
	same := trace1
	same.Sources = []string{"loki", "tempo", "loki"}
	res, err := g.Do(t.Context(), same)
	require.NoError(t, err)
	assert.Equal(t, ViaKept, res.Via)
	other := trace1
	other.To = other.To.Add(time.Second)
	res, err = g.Do(t.Context(), other)
	require.NoError(t, err)
	assert.Equal(t, ViaRun, res.Via, "another time range is another run")
	otherTrace := trace1
	otherTrace.TraceID = strings.Repeat("cd", 16)
	res, err = g.Do(t.Context(), otherTrace)
	require.NoError(t, err)
	assert.Equal(t, ViaRun, res.Via)
	assert.Equal(t, 3, f.count())
}

func TestKeptUntilTTL(t *testing.T) {
	f := newFake()
	close(f.release)
	g, clk := newGroup(f, 5*time.Second, 1<<30)
	res, err := g.Do(t.Context(), trace1)
	require.NoError(t, err)
	require.Equal(t, ViaRun, res.Via)
	clk.add(4 * time.Second)
	res, err = g.Do(t.Context(), trace1)
	require.NoError(t, err)
	assert.Equal(t, ViaKept, res.Via)
	assert.Equal(t, 4*time.Second, res.Age)
	clk.add(time.Second)
	res, err = g.Do(t.Context(), trace1)
	require.NoError(t, err)
	assert.Equal(t, ViaRun, res.Via, "the ttl counts from the run's start: at 5s the result is stale")
	assert.Equal(t, 2, f.count())
}

func TestZeroTTLSharesOnlyInFlight(t *testing.T) {
	f := newFake()
	g, _ := newGroup(f, 0, 1<<30)
	a, b := doAsync(g, t.Context(), trace1), doAsync(g, t.Context(), trace1)
	waitWaiters(t, g, trace1, 2)
	close(f.release)
	require.NoError(t, (<-a).err)
	require.NoError(t, (<-b).err)
	_, err := g.Do(t.Context(), trace1)
	require.NoError(t, err)
	assert.Equal(t, 2, f.count())
	n, _ := g.Kept()
	assert.Zero(t, n)
}

func TestErrorsAndPartialResultsAreNotKept(t *testing.T) {
	for name, result := range map[string]func(engine.Request) (*engine.Outcome, error){
		"error": func(engine.Request) (*engine.Outcome, error) {
			return nil, errors.New("every source failed")
		},
		"timed-out source": func(req engine.Request) (*engine.Outcome, error) {
			return &engine.Outcome{Model: &timeline.Model{TraceID: req.TraceID}, Statuses: []engine.SourceStatus{
				{Source: "tempo"}, {Source: "loki", Err: fmt.Errorf("timed out: %w", context.DeadlineExceeded)}}}, nil
		},
		"failed source": func(req engine.Request) (*engine.Outcome, error) {
			return &engine.Outcome{Model: &timeline.Model{TraceID: req.TraceID}, Statuses: []engine.SourceStatus{
				{Source: "kafka:audit", Err: errors.New("broker down")}}}, nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			f.result = result
			g, _ := newGroup(f, time.Minute, 1<<30)
			a, b := doAsync(g, t.Context(), trace1), doAsync(g, t.Context(), trace1)
			waitWaiters(t, g, trace1, 2)
			close(f.release)
			ra, rb := <-a, <-b
			assert.Equal(t, ra.err, rb.err, "the queries that waited for the run share its answer")
			assert.Same(t, ra.res.Outcome, rb.res.Outcome)
			_, _ = g.Do(t.Context(), trace1)
			assert.Equal(t, 2, f.count(), "a later query runs again")
			n, _ := g.Kept()
			assert.Zero(t, n)
		})
	}
}

func TestCancelledPanelDoesNotCancelTheOthers(t *testing.T) {
	f := newFake()
	g, _ := newGroup(f, time.Minute, 1<<30)
	ctx, cancel := context.WithCancel(t.Context())
	first := doAsync(g, ctx, trace1) // starts the run
	waitWaiters(t, g, trace1, 1)
	second := doAsync(g, t.Context(), trace1)
	waitWaiters(t, g, trace1, 2)
	cancel()
	a := <-first
	require.ErrorIs(t, a.err, context.Canceled)
	waitWaiters(t, g, trace1, 1)
	close(f.release)
	b := <-second
	require.NoError(t, b.err, "the run the other panel waits for goes on")
	require.NotNil(t, b.res.Outcome)
	assert.Empty(t, f.canceled)
	assert.Equal(t, 1, f.count())
}

func TestRunStopsWhenEveryQueryLeft(t *testing.T) {
	f := newFake()
	g, _ := newGroup(f, time.Minute, 1<<30)
	ctx, cancel := context.WithCancel(t.Context())
	a, b := doAsync(g, ctx, trace1), doAsync(g, ctx, trace1)
	waitWaiters(t, g, trace1, 2)
	cancel()
	require.ErrorIs(t, (<-a).err, context.Canceled)
	require.ErrorIs(t, (<-b).err, context.Canceled)
	select {
	case req := <-f.canceled:
		assert.Equal(t, trace1.TraceID, req.TraceID)
	case <-time.After(10 * time.Second):
		t.Fatal("the run was not cancelled when nobody waited for it")
	}
	// The next query starts afresh instead of joining the cancelled run.
	close(f.release)
	res, err := g.Do(t.Context(), trace1)
	require.NoError(t, err)
	assert.Equal(t, ViaRun, res.Via)
	assert.Equal(t, 2, f.count())
}

// sizedResult returns models with as many 100-byte lines as logs gives the
// trace ID.
func sizedResult(logs map[string]int) func(engine.Request) (*engine.Outcome, error) {
	return func(req engine.Request) (*engine.Outcome, error) {
		m := &timeline.Model{TraceID: req.TraceID, Logs: make([]timeline.Log, logs[req.TraceID])}
		for i := range m.Logs {
			m.Logs[i].LogRecord = &timeline.LogRecord{Body: strings.Repeat("x", 100)}
		}
		return &engine.Outcome{Model: m}, nil
	}
}

func TestKeptResultsAreBoundedInBytes(t *testing.T) {
	ids := []string{strings.Repeat("01", 16), strings.Repeat("02", 16), strings.Repeat("03", 16), strings.Repeat("04", 16)}
	sizes := map[string]int{ids[0]: 100, ids[1]: 100, ids[2]: 100, ids[3]: 1000}
	one := (&timeline.Model{Logs: make([]timeline.Log, 100)}).ApproxBytes()
	f := newFake()
	close(f.release)
	f.result = sizedResult(sizes)
	// Room for two 100-line models (bodies make each a little larger than one).
	g, _ := newGroup(f, time.Minute, 2*one+2*100*(100+64))
	req := func(id string) engine.Request { r := trace1; r.TraceID = id; return r }
	for _, id := range ids[:3] {
		_, err := g.Do(t.Context(), req(id))
		require.NoError(t, err)
	}
	n, bytes := g.Kept()
	assert.Equal(t, 2, n, "the oldest result was dropped to stay within maxBytes")
	assert.LessOrEqual(t, bytes, g.maxBytes)
	res, err := g.Do(t.Context(), req(ids[0]))
	require.NoError(t, err)
	assert.Equal(t, ViaRun, res.Via, "the first trace was evicted")
	res, err = g.Do(t.Context(), req(ids[2]))
	require.NoError(t, err)
	assert.Equal(t, ViaKept, res.Via)
	_, err = g.Do(t.Context(), req(ids[3]))
	require.NoError(t, err)
	n, _ = g.Kept()
	assert.Equal(t, 2, n, "a result larger than maxBytes is not kept and evicts nothing")
}

func TestCloseDropsKeptResults(t *testing.T) {
	f := newFake()
	close(f.release)
	g, _ := newGroup(f, time.Minute, 1<<30)
	_, err := g.Do(t.Context(), trace1)
	require.NoError(t, err)
	n, _ := g.Kept()
	require.Equal(t, 1, n)
	g.Close()
	n, bytes := g.Kept()
	assert.Zero(t, n)
	assert.Zero(t, bytes)
	_, err = g.Do(t.Context(), trace1)
	require.NoError(t, err)
	n, _ = g.Kept()
	assert.Zero(t, n, "a closed group keeps nothing")
}
