package admission

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mib = 1 << 20

// testGate has a 100 MiB budget, a 140 MiB heap ceiling and a heap whose
// size the test sets.
func testGate() (*Gate, *atomic.Int64, *atomic.Int64) {
	var heap, gcs atomic.Int64
	g := &Gate{budget: 100 * mib, ceiling: 140 * mib, heap: heap.Load, gc: func() { gcs.Add(1) }}
	return g, &heap, &gcs
}

func acquireAsync(g *Gate, ctx context.Context, need int64) chan *Ticket {
	ch := make(chan *Ticket, 1)
	go func() {
		t, err := g.Acquire(ctx, need)
		if err != nil {
			t = nil
		}
		ch <- t
	}()
	return ch
}

func queued(t *testing.T, g *Gate, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.queue.Len() == n
	}, 10*time.Second, time.Millisecond)
}

func pending(ch chan *Ticket) bool {
	select {
	case t := <-ch:
		ch <- t
		return false
	default:
		return true
	}
}

func TestAdmitsWithinBudgetInArrivalOrder(t *testing.T) {
	g, _, _ := testGate()
	a, err := g.Acquire(t.Context(), 40*mib)
	require.NoError(t, err)
	b, err := g.Acquire(t.Context(), 40*mib)
	require.NoError(t, err)
	assert.Zero(t, a.Waited)
	big := acquireAsync(g, t.Context(), 50*mib)
	queued(t, g, 1)
	small := acquireAsync(g, t.Context(), 10*mib)
	queued(t, g, 2)
	assert.True(t, pending(small), "a small answer does not overtake the large one that waits before it")
	a.Release()
	a.Release() // a second release returns nothing twice
	tb := <-big
	require.NotNil(t, tb)
	tsm := <-small
	require.NotNil(t, tsm, "90+10 fits")
	g.mu.Lock()
	assert.Equal(t, int64(100*mib), g.used)
	g.mu.Unlock()
	for _, x := range []*Ticket{b, tb, tsm} {
		x.Release()
	}
	g.mu.Lock()
	assert.Zero(t, g.used)
	g.mu.Unlock()
}

func TestLargerThanBudgetIsBuiltAlone(t *testing.T) {
	g, _, _ := testGate()
	a, err := g.Acquire(t.Context(), 10*mib)
	require.NoError(t, err)
	huge := acquireAsync(g, t.Context(), 500*mib)
	queued(t, g, 1)
	a.Release()
	th := <-huge
	require.NotNil(t, th)
	assert.True(t, th.Alone)
	next := acquireAsync(g, t.Context(), mib)
	queued(t, g, 1)
	assert.True(t, pending(next), "nothing is built beside an answer larger than the budget")
	th.Release()
	require.NotNil(t, <-next)
}

func TestGivingUpLeavesTheQueue(t *testing.T) {
	g, _, _ := testGate()
	a, err := g.Acquire(t.Context(), 90*mib)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := acquireAsync(g, ctx, 50*mib)
	queued(t, g, 1)
	after := acquireAsync(g, t.Context(), 50*mib)
	queued(t, g, 2)
	cancel()
	assert.Nil(t, <-gaveUp)
	queued(t, g, 1)
	a.Release()
	tk := <-after
	require.NotNil(t, tk)
	tk.Release()
	g.mu.Lock()
	assert.Zero(t, g.used, "no reservation is left behind")
	g.mu.Unlock()
}

func TestWaitsWhileTheHeapIsFull(t *testing.T) {
	g, heap, gcs := testGate()
	a, err := g.Acquire(t.Context(), 20*mib)
	require.NoError(t, err)
	// The SDK is encoding earlier answers: the heap holds 130 MiB although
	// the reservations are 20 MiB.
	heap.Store(130 * mib)
	w := acquireAsync(g, t.Context(), 20*mib)
	queued(t, g, 1)
	require.Eventually(t, func() bool { return gcs.Load() > 0 }, 10*time.Second, time.Millisecond,
		"a heap that stays full gets collected")
	assert.True(t, pending(w))
	heap.Store(60 * mib)
	tk := <-w
	require.NotNil(t, tk, "admitted once the heap has room")
	assert.Positive(t, tk.Waited)
	tk.Release()
	a.Release()
}

func TestNothingBuiltAdmitsEvenOnAFullHeap(t *testing.T) {
	g, heap, _ := testGate()
	heap.Store(1 << 40)
	tk, err := g.Acquire(t.Context(), 10*mib)
	require.NoError(t, err, "progress: with nothing reserved an answer is always admitted")
	tk.Release()
}

func TestConcurrentUseKeepsTheBudget(t *testing.T) {
	g, _, _ := testGate()
	var mu sync.Mutex
	var in, peak int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			need := int64(i%7+1) * 8 * mib
			tk, err := g.Acquire(t.Context(), need)
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			in += need
			peak = max(peak, in)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			in -= need
			mu.Unlock()
			tk.Release()
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, peak, g.budget)
	assert.Positive(t, peak)
}

func TestNewSizesFromTheLimit(t *testing.T) {
	g := New(1000 * mib)
	assert.Equal(t, int64(600*mib), g.Budget())
	assert.Equal(t, New(DefaultLimit).Budget(), New(0).Budget())
}

// TestReservationsHeldUntilEncoded: with HoldUntilEncoded an answer's room
// comes back when the codec reports it encoded, oldest hand-over first, and
// never twice; without it Done returns the room at once.
func TestReservationsHeldUntilEncoded(t *testing.T) {
	g, _, _ := testGate()
	g.HoldUntilEncoded()
	a, err := g.Acquire(t.Context(), 60*mib)
	require.NoError(t, err)
	b, err := g.Acquire(t.Context(), 30*mib)
	require.NoError(t, err)
	a.Done()
	b.Done()
	next := acquireAsync(g, t.Context(), 50*mib)
	queued(t, g, 1)
	assert.True(t, pending(next), "handed to the SDK is not encoded yet: the room stays taken")
	g.Encoded(1) // a's answer (the oldest) is encoded
	tk := <-next
	require.NotNil(t, tk)
	g.Encoded(5) // more than are waiting: only b is returned
	g.mu.Lock()
	assert.Equal(t, int64(50*mib), g.used)
	assert.Zero(t, g.encoding.Len())
	g.mu.Unlock()
	tk.Done()
	g.Encoded(1)
	g.mu.Lock()
	assert.Zero(t, g.used)
	g.mu.Unlock()

	plain, _, _ := testGate()
	tk, err = plain.Acquire(t.Context(), 60*mib)
	require.NoError(t, err)
	tk.Done()
	plain.mu.Lock()
	assert.Zero(t, plain.used, "in process there is no codec to wait for")
	plain.mu.Unlock()
}

// TestUnencodedHandOverExpires: a reservation whose answer never reaches the
// codec is returned after encodeTimeout.
func TestUnencodedHandOverExpires(t *testing.T) {
	g, _, _ := testGate()
	g.HoldUntilEncoded()
	tk, err := g.Acquire(t.Context(), 60*mib)
	require.NoError(t, err)
	tk.Done()
	g.mu.Lock()
	g.encoding.Front().Value.(*Ticket).handedAt = time.Now().Add(-encodeTimeout)
	g.mu.Unlock()
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.used == 0 && g.encoding.Len() == 0
	}, 10*time.Second, time.Millisecond)
}

// TestOwnHeldAnswersDoNotBlockTheCall: the answers of one QueryData call
// reach the codec together, after the last is built, so the room held by
// the call's earlier answers must not keep its next one waiting (it would
// wait for itself until encodeTimeout); another call's answer still waits.
func TestOwnHeldAnswersDoNotBlockTheCall(t *testing.T) {
	g, _, _ := testGate()
	g.HoldUntilEncoded()
	call := WithCall(t.Context())
	a, err := g.Acquire(call, 90*mib)
	require.NoError(t, err)
	a.Done()
	other := acquireAsync(g, WithCall(t.Context()), 50*mib)
	queued(t, g, 1)
	b := acquireAsync(g, call, 50*mib)
	tb := <-b
	require.NotNil(t, tb, "the call's second answer is admitted beside its own held first")
	assert.True(t, pending(other), "another call's answer waits for the room")
	tb.Done()
	g.Encoded(2) // the call's answer: both its parts are encoded together
	require.NotNil(t, <-other)
}
