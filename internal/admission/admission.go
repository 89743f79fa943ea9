// Package admission bounds the memory that the plugin process spends on
// answers being built, so that several large queries at once make some of
// them wait instead of taking the process past its memory: one OOM kill
// fails every panel of every user.
//
// What a Traceweave answer costs is known once the merged model is there:
// each frame's size follows from the model (frames.EstimateBytes), and the
// SDK then encodes those frames as Arrow, which at 100k lines allocates
// about twice the frames again (BENCHMARKS.md, run E). A Gate admits the
// building of an answer when its estimate fits next to those already being
// built, in arrival order so a large answer is not overtaken forever, and
// one answer is always admitted when nothing else is (a single answer larger
// than the budget is built alone rather than refused).
//
// The SDK encodes an answer after the handler returns, outside what the
// gate's reservations can see; the Go runtime's heap size sees it. So an
// answer is also held back while the heap already holds the budget: the
// gate then checks again every PollInterval, and forces a collection when
// the heap has stayed that full for longer, since a heap full of garbage
// only shrinks when the collector runs.
package admission

import (
	"container/list"
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Defaults of the process-wide gate.
const (
	// BudgetShare is the part of the process's memory limit that answers
	// being built may reserve; the rest is the process's own (connections,
	// the cached models, the runs fetching) and the collector's headroom.
	BudgetShare = 0.6
	// CeilingShare is the part of the memory limit the heap may hold when
	// another answer is admitted.
	CeilingShare = 0.85
	// DefaultLimit stands for the memory limit when the process has none
	// (no GOMEMLIMIT, no memory_limit in the plugin's grafana.ini section).
	DefaultLimit = 512 << 20
	// PollInterval is how often a waiting answer looks at the heap again.
	PollInterval = 20 * time.Millisecond
	// forceGCAfter is how long answers wait on a full heap before the gate
	// runs the collector itself.
	forceGCAfter = 100 * time.Millisecond
)

// Gate admits answers by estimated size. The zero value is not usable; use New.
type Gate struct {
	budget  int64
	ceiling int64
	heap    func() int64
	gc      func()

	mu        sync.Mutex
	used      int64
	queue     list.List // of *waiter, in arrival order
	polling   bool
	fullSince time.Time
}

type waiter struct {
	need  int64
	ready chan struct{}
}

// New returns a gate for a process whose memory limit is limit bytes
// (0 or math.MaxInt64: none, DefaultLimit applies).
func New(limit int64) *Gate {
	if limit <= 0 || limit == math.MaxInt64 {
		limit = DefaultLimit
	}
	return &Gate{budget: int64(float64(limit) * BudgetShare), ceiling: int64(float64(limit) * CeilingShare),
		heap: heapBytes, gc: runtime.GC}
}

var (
	processOnce sync.Once
	process     *Gate
)

// Process returns the gate shared by every datasource instance of the
// process, sized from the memory limit in force when it is first used
// (pkg/main.go applies memory_limit before serving).
func Process() *Gate {
	processOnce.Do(func() { process = New(debug.SetMemoryLimit(-1)) })
	return process
}

// Budget is the bytes answers may take at once.
func (g *Gate) Budget() int64 { return g.budget }

// heapBytes is the heap's current size, live objects and not yet collected
// garbage (runtime/metrics; reading it stops nothing).
func heapBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// Ticket is an admitted answer's reservation.
type Ticket struct {
	g    *Gate
	need int64
	// Waited is how long the answer waited to be admitted.
	Waited time.Duration
	// Alone is true when the estimate was larger than the budget, so the
	// answer was admitted only with nothing else being built.
	Alone bool
	once  sync.Once
}

// Release returns the reservation; later calls do nothing.
func (t *Ticket) Release() {
	if t == nil || t.g == nil {
		return
	}
	t.once.Do(func() {
		t.g.mu.Lock()
		t.g.used -= t.need
		t.g.grantLocked()
		t.g.mu.Unlock()
	})
}

// Acquire waits until an answer estimated at need bytes may be built, or
// ctx ends.
func (g *Gate) Acquire(ctx context.Context, need int64) (*Ticket, error) {
	t := &Ticket{g: g, need: max(need, 0)}
	if t.need > g.budget {
		t.need, t.Alone = g.budget, true
	}
	start := time.Now()
	g.mu.Lock()
	if g.queue.Len() == 0 && g.fitsLocked(t.need) {
		g.used += t.need
		g.mu.Unlock()
		return t, nil
	}
	w := &waiter{need: t.need, ready: make(chan struct{})}
	el := g.queue.PushBack(w)
	if !g.polling {
		g.polling = true
		go g.poll()
	}
	g.mu.Unlock()

	select {
	case <-w.ready:
		t.Waited = time.Since(start)
		return t, nil
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		select {
		case <-w.ready: // admitted while giving up: hand the room back
			g.used -= t.need
		default:
			g.queue.Remove(el)
		}
		g.grantLocked()
		return nil, ctx.Err()
	}
}

// fitsLocked: nothing else is being built, or need fits next to what is,
// both by the reservations and by the heap's size.
func (g *Gate) fitsLocked(need int64) bool {
	if g.used == 0 {
		return true
	}
	return g.used+need <= g.budget && g.heap()+need <= g.ceiling
}

// grantLocked admits waiters from the front of the queue while they fit.
func (g *Gate) grantLocked() {
	for g.queue.Len() > 0 {
		w := g.queue.Front().Value.(*waiter)
		if !g.fitsLocked(w.need) {
			return
		}
		g.queue.Remove(g.queue.Front())
		g.used += w.need
		close(w.ready)
	}
}

// poll re-checks the waiters while there are any: the heap shrinks without
// telling the gate.
func (g *Gate) poll() {
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for range tick.C {
		g.mu.Lock()
		g.grantLocked()
		if g.queue.Len() == 0 {
			g.polling = false
			g.fullSince = time.Time{}
			g.mu.Unlock()
			return
		}
		now := time.Now()
		if g.fullSince.IsZero() {
			g.fullSince = now
		}
		collect := now.Sub(g.fullSince) >= forceGCAfter
		if collect {
			g.fullSince = now
		}
		g.mu.Unlock()
		if collect {
			g.gc()
		}
	}
}
