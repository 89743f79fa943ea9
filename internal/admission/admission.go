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
// The SDK encodes an answer after the handler returns, and that encoding is
// most of the answer's memory (at 100k lines, under four dashboards at
// once, 351 of 534 MB of heap were the SDK's IPC buffers and Arrow
// builders: BENCHMARKS.md, run F). In the plugin binary the reservation is
// therefore held until gRPC's codec is handed the encoded answer
// (HoldUntilEncoded, zerocopy.OnEncoded), in the order the handlers
// returned: the codec does not say whose answer it writes, so an answer
// may free the room of another that returned before it, never more room
// than was reserved. A reservation whose answer never reaches the codec is
// returned after encodeTimeout. An answer is also held back while the Go
// heap already holds the ceiling (garbage, other instances' runs): the gate
// then checks again every PollInterval, and forces a collection when the
// heap has stayed that full for longer, since a heap full of garbage only
// shrinks when the collector runs.
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
	// encodeTimeout returns a reservation whose encoded answer never
	// reached the codec (an answer gRPC could not send). A 100k-line
	// answer encodes in under a second (BENCHMARKS.md, run E).
	encodeTimeout = 30 * time.Second
)

// Gate admits answers by estimated size. The zero value is not usable; use New.
type Gate struct {
	budget  int64
	ceiling int64
	heap    func() int64
	gc      func()

	mu       sync.Mutex
	used     int64
	building int // admitted answers whose frames are not handed over yet
	// heldByCall: reservations of answers handed over, by QueryData call.
	heldByCall map[*callToken]int64
	queue      list.List // of *waiter, in arrival order
	polling    bool
	fullSince  time.Time
	// holdUntilEncoded: Done hands reservations to encoding (oldest first)
	// until Encoded returns them.
	holdUntilEncoded bool
	encoding         list.List // of *Ticket
}

type waiter struct {
	need  int64
	call  *callToken
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
	Alone    bool
	once     sync.Once
	handedAt time.Time
	// held: the frames are built and handed to the SDK (Done); until then
	// the answer counts as being built.
	held bool
	call *callToken
}

// callToken identifies one QueryData call (WithCall).
type callToken struct{ _ byte } // not zero-size: distinct tokens have distinct addresses

type callKey struct{}

// WithCall marks ctx as one QueryData call's. The answers of one call reach
// the codec together, after the last of them is built, so the reservations
// its own answers hold must never keep its next answer waiting: that would
// wait for itself.
func WithCall(ctx context.Context) context.Context {
	return context.WithValue(ctx, callKey{}, &callToken{})
}

func callOf(ctx context.Context) *callToken {
	c, _ := ctx.Value(callKey{}).(*callToken)
	return c
}

// Release returns the reservation; later calls do nothing.
func (t *Ticket) Release() {
	if t == nil || t.g == nil {
		return
	}
	t.once.Do(func() {
		t.g.mu.Lock()
		t.g.used -= t.need
		if t.held {
			t.g.heldLocked(t.call, -t.need)
		} else {
			t.g.building--
		}
		t.g.grantLocked()
		t.g.mu.Unlock()
	})
}

// Done is called when the answer's frames are built and handed to the SDK:
// the reservation is returned now, or, with HoldUntilEncoded, when the
// encoded answer reaches the codec (Encoded).
func (t *Ticket) Done() {
	if t == nil || t.g == nil {
		return
	}
	g := t.g
	g.mu.Lock()
	hold := g.holdUntilEncoded
	if hold {
		t.held = true
		g.building--
		g.heldLocked(t.call, t.need)
		t.handedAt = time.Now()
		g.encoding.PushBack(t)
		g.grantLocked()
		if !g.polling {
			g.polling = true
			go g.poll()
		}
	}
	g.mu.Unlock()
	if !hold {
		t.Release()
	}
}

// HoldUntilEncoded makes Done keep reservations until Encoded reports the
// answers encoded: for a process whose codec calls Encoded (the plugin
// binary). Without it (the engine in process, tests) Done releases at once.
func (g *Gate) HoldUntilEncoded() {
	g.mu.Lock()
	g.holdUntilEncoded = true
	g.mu.Unlock()
}

// Encoded returns the reservations of the n oldest answers handed to
// encoding.
func (g *Gate) Encoded(n int) {
	var done []*Ticket
	g.mu.Lock()
	for ; n > 0 && g.encoding.Len() > 0; n-- {
		done = append(done, g.encoding.Remove(g.encoding.Front()).(*Ticket))
	}
	g.mu.Unlock()
	for _, t := range done {
		t.Release()
	}
}

// expireEncodingLocked drops the hand-overs older than encodeTimeout and
// returns them for release.
func (g *Gate) expireEncodingLocked(now time.Time) []*Ticket {
	var out []*Ticket
	for g.encoding.Len() > 0 {
		t := g.encoding.Front().Value.(*Ticket)
		if now.Sub(t.handedAt) < encodeTimeout {
			break
		}
		out = append(out, g.encoding.Remove(g.encoding.Front()).(*Ticket))
	}
	return out
}

// Acquire waits until an answer estimated at need bytes may be built, or
// ctx ends.
func (g *Gate) Acquire(ctx context.Context, need int64) (*Ticket, error) {
	t := &Ticket{g: g, need: max(need, 0), call: callOf(ctx)}
	if t.need > g.budget {
		t.need, t.Alone = g.budget, true
	}
	start := time.Now()
	g.mu.Lock()
	if (g.queue.Len() == 0 && g.fitsLocked(t.need, t.call)) || g.onlyOwnHeldLocked(t.call) {
		g.used += t.need
		g.building++
		g.mu.Unlock()
		return t, nil
	}
	w := &waiter{need: t.need, call: t.call, ready: make(chan struct{})}
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
			g.building--
		default:
			g.queue.Remove(el)
		}
		g.grantLocked()
		return nil, ctx.Err()
	}
}

// fitsLocked: nothing is being built or encoded but the call's own answers,
// or need fits next to what is, both by the reservations (the call's own
// answers handed over not counted) and by the heap's size.
func (g *Gate) fitsLocked(need int64, call *callToken) bool {
	others := g.used - g.heldByCall[call]
	if g.building == 0 && others == 0 {
		return true
	}
	return others+need <= g.budget && g.heap()+need <= g.ceiling
}

// heldLocked adds n to the reservations the call's handed-over answers hold.
func (g *Gate) heldLocked(call *callToken, n int64) {
	if call == nil {
		return
	}
	if g.heldByCall == nil {
		g.heldByCall = map[*callToken]int64{}
	}
	if g.heldByCall[call] += n; g.heldByCall[call] == 0 {
		delete(g.heldByCall, call)
	}
}

// grantLocked admits waiters from the front of the queue while they fit,
// and any waiter that only its own call's held answers keep waiting: those
// reach the codec after it, so it would otherwise wait for itself.
func (g *Gate) grantLocked() {
	for g.queue.Len() > 0 {
		el := g.queue.Front()
		if w := el.Value.(*waiter); !g.fitsLocked(w.need, w.call) {
			if el = g.selfBlockedLocked(); el == nil {
				return
			}
		}
		w := g.queue.Remove(el).(*waiter)
		g.used += w.need
		g.building++
		close(w.ready)
	}
}

// onlyOwnHeldLocked: nothing is being built, and every reservation is held
// by answers of this call.
func (g *Gate) onlyOwnHeldLocked(call *callToken) bool {
	return call != nil && g.building == 0 && g.used == g.heldByCall[call]
}

// selfBlockedLocked finds a waiter for which onlyOwnHeldLocked holds.
func (g *Gate) selfBlockedLocked() *list.Element {
	for el := g.queue.Front(); el != nil; el = el.Next() {
		if g.onlyOwnHeldLocked(el.Value.(*waiter).call) {
			return el
		}
	}
	return nil
}

// poll re-checks the waiters while there are any: the heap shrinks without
// telling the gate.
func (g *Gate) poll() {
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for range tick.C {
		now := time.Now()
		g.mu.Lock()
		expired := g.expireEncodingLocked(now)
		g.mu.Unlock()
		for _, t := range expired {
			t.Release()
		}
		g.mu.Lock()
		g.grantLocked()
		if g.queue.Len() == 0 {
			g.fullSince = time.Time{}
			if g.encoding.Len() == 0 {
				g.polling = false
				g.mu.Unlock()
				return
			}
			g.mu.Unlock()
			continue
		}
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
