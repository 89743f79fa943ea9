// Package sharedrun lets the panels of a dashboard share one engine run.
//
// Grafana sends one QueryData call per panel, all at once, when a dashboard
// opens; the incident dashboard has five Traceweave panels of one trace. A
// Group runs the engine once for all the queries of one trace that are in
// flight together (a single flight), and keeps a finished run's result for a
// short time (ttl) so that a panel asking just after it finished is answered
// from it too. What the panels then build from the shared result (frames)
// is theirs: the outcome is read-only from here on.
//
// A Group belongs to one datasource instance, so results never cross
// datasources, settings versions or organisations. Only complete results
// are kept: an error, or a result in which any source failed or timed out,
// is shared with the queries that waited for that run and with no later one.
// A query that gives up (its panel was closed or refreshed) stops waiting;
// the run goes on for the others and is cancelled when the last one leaves.
package sharedrun

import (
	"container/list"
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/traceweave/traceweave/pkg/engine"
)

// RunFunc runs the engine for one request (engine.Engine.Run).
type RunFunc func(ctx context.Context, req engine.Request) (*engine.Outcome, error)

// Group shares runs among concurrent and near-simultaneous requests that ask
// the same thing. It is safe for concurrent use.
type Group struct {
	run      RunFunc
	ttl      time.Duration
	maxBytes int64
	now      func() time.Time

	mu       sync.Mutex
	inflight map[key]*call
	kept     map[key]*list.Element // of *entry, oldest at the front
	order    list.List
	bytes    int64
	closed   bool

	runs atomic.Int64
}

// New returns a Group that runs run, keeps complete results for ttl (0:
// not at all after the run) and at most maxBytes of them by
// timeline.Model.ApproxBytes.
func New(run RunFunc, ttl time.Duration, maxBytes int64) *Group {
	return &Group{run: run, ttl: ttl, maxBytes: maxBytes, now: time.Now,
		inflight: map[key]*call{}, kept: map[key]*list.Element{}}
}

// key is what makes two requests the same run: everything in
// engine.Request. The settings are the Group's own (one per instance).
type key struct {
	traceID  string
	sources  string
	from, to int64
}

func keyOf(req engine.Request) key {
	src := slices.Clone(req.Sources)
	slices.Sort(src)
	k := key{traceID: req.TraceID, sources: strings.Join(slices.Compact(src), ",")}
	if !req.From.IsZero() {
		k.from = req.From.UnixNano()
	}
	if !req.To.IsZero() {
		k.to = req.To.UnixNano()
	}
	return k
}

// call is one engine run and the queries waiting for it.
type call struct {
	done    chan struct{}
	out     *engine.Outcome
	err     error
	started time.Time
	waiters int
	cancel  context.CancelFunc
}

// entry is a kept result.
type entry struct {
	key     key
	out     *engine.Outcome
	started time.Time
	bytes   int64
}

// How a query was answered (Result.Via).
const (
	// ViaRun: this query started the run.
	ViaRun = "run"
	// ViaInFlight: joined a run another query had started.
	ViaInFlight = "in-flight"
	// ViaKept: a finished run's kept result.
	ViaKept = "kept"
)

// Result is a query's answer: the shared outcome and how it was obtained.
// Outcome and everything it points to must not be modified.
type Result struct {
	Outcome *engine.Outcome
	Via     string
	// Age is how long before this answer its run started.
	Age time.Duration
}

// Runs reports how many engine runs the group has started.
func (g *Group) Runs() int64 { return g.runs.Load() }

// Do answers req from a kept result, a run in flight, or a new run. It
// returns when the answer is there or ctx ends, whichever is first.
func (g *Group) Do(ctx context.Context, req engine.Request) (Result, error) {
	k := keyOf(req)
	g.mu.Lock()
	g.expireLocked()
	now := g.now()
	if el, ok := g.kept[k]; ok {
		e := el.Value.(*entry)
		g.order.MoveToBack(el)
		g.mu.Unlock()
		return Result{Outcome: e.out, Via: ViaKept, Age: now.Sub(e.started)}, nil
	}
	via := ViaInFlight
	c, ok := g.inflight[k]
	if !ok {
		via = ViaRun
		// The run belongs to every query that waits for it, not to the one
		// that started it: its context keeps the first query's values
		// (logger, trace) but not its cancellation.
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call{done: make(chan struct{}), started: now, cancel: cancel}
		g.inflight[k] = c
		g.runs.Add(1)
		go g.execute(rctx, k, c, req)
	}
	c.waiters++
	g.mu.Unlock()

	select {
	case <-c.done:
		return Result{Outcome: c.out, Via: via, Age: g.now().Sub(c.started)}, c.err
	case <-ctx.Done():
		g.mu.Lock()
		c.waiters--
		if c.waiters == 0 && g.inflight[k] == c {
			// Nobody waits any more: stop the run, and let the next query
			// of this trace start a fresh one rather than join a cancelled one.
			delete(g.inflight, k)
			c.cancel()
		}
		g.mu.Unlock()
		return Result{}, ctx.Err()
	}
}

func (g *Group) execute(ctx context.Context, k key, c *call, req engine.Request) {
	defer c.cancel()
	c.out, c.err = g.run(ctx, req)
	g.mu.Lock()
	if g.inflight[k] == c {
		delete(g.inflight, k)
		if complete(c.out, c.err) && ctx.Err() == nil {
			g.keepLocked(k, c)
		}
	}
	g.mu.Unlock()
	close(c.done)
}

// complete reports whether a result may answer later queries: no error and
// every source answered (a failed or timed-out source may answer next time).
func complete(out *engine.Outcome, err error) bool {
	if err != nil || out == nil || out.Model == nil {
		return false
	}
	for _, s := range out.Statuses {
		if s.Err != nil {
			return false
		}
	}
	return true
}

func (g *Group) keepLocked(k key, c *call) {
	if g.closed || g.ttl <= 0 || g.now().Sub(c.started) >= g.ttl {
		return
	}
	size := c.out.Model.ApproxBytes()
	if size > g.maxBytes {
		return
	}
	if el, ok := g.kept[k]; ok {
		g.dropLocked(el)
	}
	for g.bytes+size > g.maxBytes && g.order.Len() > 0 {
		g.dropLocked(g.order.Front())
	}
	e := &entry{key: k, out: c.out, started: c.started, bytes: size}
	el := g.order.PushBack(e)
	g.kept[k] = el
	g.bytes += size
	// Without further queries nothing would look at the entry again: free
	// the model when it expires rather than at the next query.
	time.AfterFunc(g.ttl-g.now().Sub(c.started), func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.kept[k] == el {
			g.dropLocked(el)
		}
	})
}

func (g *Group) dropLocked(el *list.Element) {
	e := el.Value.(*entry)
	g.order.Remove(el)
	delete(g.kept, e.key)
	g.bytes -= e.bytes
}

// Close drops every kept result, so a disposed datasource instance frees
// its models at once rather than when their ttl ends. Runs in flight finish
// for the queries waiting for them and are not kept.
func (g *Group) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for g.order.Len() > 0 {
		g.dropLocked(g.order.Front())
	}
}

// Kept reports the number and estimated bytes of the kept results.
func (g *Group) Kept() (n int, bytes int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expireLocked()
	return g.order.Len(), g.bytes
}

// expireLocked drops the kept results older than the ttl.
func (g *Group) expireLocked() {
	now := g.now()
	for el := g.order.Front(); el != nil; {
		next := el.Next()
		if now.Sub(el.Value.(*entry).started) >= g.ttl {
			g.dropLocked(el)
		}
		el = next
	}
}
