package engine

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/traceweave/traceweave/pkg/loki"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// startsEarly reports whether Loki is asked over the request's range before
// Tempo gives the window: only for a set range at most twice the padding of
// a trace window long. Measured (BenchmarkLokiEarlyStart): over a 5-minute
// range, 1k lines 108 -> 63 ms, 100k lines no clear gain; and a real Loki's
// cost grows with the range it scans, so a range much longer than the
// window it replaces would cost more than the Tempo round trip it hides.
func (e *Engine) startsEarly(req Request) bool {
	if req.From.IsZero() || req.To.IsZero() || !req.To.After(req.From) {
		return false
	}
	limit := 2 * (time.Duration(e.cfg.Window.Before) + time.Duration(e.cfg.Window.After))
	return req.To.Sub(req.From) <= limit
}

// earlyLoki is a Loki query over the request's range [from, to) (Unix ns)
// running while Tempo answers.
type earlyLoki struct {
	from, to int64
	cancel   context.CancelFunc
	done     chan struct{}
	res      *loki.Result
	err      error
}

// startEarlyLoki starts the query; its context is a child of ctx, so the
// request's cancellation stops it, and stop ends it when it is not needed.
func (e *Engine) startEarlyLoki(ctx context.Context, traceID string, from, to int64) *earlyLoki {
	ctx, cancel := context.WithCancel(ctx)
	el := &earlyLoki{from: from, to: to, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(el.done)
		el.res, el.err = e.loki.Query(ctx, traceID, from, to)
	}()
	return el
}

// wait returns the early answer once it is in.
func (el *earlyLoki) wait() (*loki.Result, error) {
	<-el.done
	return el.res, el.err
}

// stop cancels the query if it still runs and waits for its goroutine, so
// no query outlives Run.
func (el *earlyLoki) stop() {
	el.cancel()
	<-el.done
}

// queryLoki returns Loki's lines of the trace in the window [from, to)
// (Unix ns), the same lines and the same Truncated as loki.Client.Query over
// the window, which it is when no early query runs.
//
// With an early query over [early.from, early.to):
//   - the early lines inside the window are kept, and only the parts of the
//     window before early.from and after early.to are asked, concurrently
//     with waiting for the early answer. Each part keeps only its own
//     half-open sub-range, so a line (its loki record ID includes its time)
//     is in exactly one part even if a Loki returned its end instant too, and
//     the parts joined in time order are in time order;
//   - an error of the early query or of a part is the answer's error, as a
//     failed Query over the window would be;
//   - loki.maxTotalLines bounds the joined lines: past it they are cut (in
//     time order) and Truncated is set, as Query stops at the cap. An early
//     answer that was itself truncated lacks the lines of its range past the
//     cap, which may lie inside the window: then the window is asked whole,
//     as without an early query;
//   - a window equal to the early range (no trace) is the early answer as it
//     is; a window outside it asks the window whole and cancels the early
//     query.
func (e *Engine) queryLoki(ctx context.Context, traceID string, from, to int64, early *earlyLoki) (*loki.Result, error) {
	if early == nil || to <= from {
		// An empty window gets Query's own error, as without an early query.
		return e.loki.Query(ctx, traceID, from, to)
	}
	if from == early.from && to == early.to {
		// No trace: the window is the query's range, which the early query
		// asked, truncated or not.
		return early.wait()
	}
	lo, hi := max(from, early.from), min(to, early.to)
	if lo >= hi {
		early.stop()
		return e.loki.Query(ctx, traceID, from, to)
	}

	var before, after *lokiPart
	if from < early.from {
		before = &lokiPart{from: from, to: early.from}
	}
	if to > early.to {
		after = &lokiPart{from: early.to, to: to}
	}
	pctx, cancelParts := context.WithCancel(ctx)
	defer cancelParts()
	var wg sync.WaitGroup
	for _, p := range []*lokiPart{before, after} {
		if p == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.res, p.err = e.loki.Query(pctx, traceID, p.from, p.to)
		}()
	}
	mid, err := early.wait()
	if err != nil || mid.Truncated {
		cancelParts()
		wg.Wait()
		if err != nil {
			return nil, err
		}
		return e.loki.Query(ctx, traceID, from, to)
	}
	wg.Wait()

	inner := &loki.Result{Records: within(mid.Records, lo, hi), Pages: mid.Pages, Notices: mid.Notices}
	if before == nil && after == nil {
		return inner, nil
	}
	for _, p := range []*lokiPart{before, after} {
		if p != nil && p.err != nil {
			return nil, p.err
		}
	}
	ordered := make([]*loki.Result, 0, 3)
	if before != nil {
		ordered = append(ordered, before.within())
	}
	ordered = append(ordered, inner)
	if after != nil {
		ordered = append(ordered, after.within())
	}
	return joinResults(e.maxTotalLines(), ordered), nil
}

// lokiPart is a query over a part [from, to) of the window that the early
// query did not cover.
type lokiPart struct {
	from, to int64
	res      *loki.Result
	err      error
}

// within is the part's answer kept to its own range.
func (p *lokiPart) within() *loki.Result {
	r := *p.res
	r.Records = within(r.Records, p.from, p.to)
	return &r
}

// within returns the records of recs (in time order, as loki.Result holds
// them) in [from, to), sharing recs' array.
func within(recs []timeline.LogRecord, from, to int64) []timeline.LogRecord {
	i := sort.Search(len(recs), func(i int) bool { return recs[i].TimeNs >= from })
	j := i + sort.Search(len(recs)-i, func(k int) bool { return recs[i+k].TimeNs >= to })
	return recs[i:j]
}

// joinResults joins answers of consecutive time ranges, in time order, into
// one capped at maxTotal lines. An answer truncated by the cap holds the
// first maxTotal lines of its range, so whatever follows it is past the cut.
func joinResults(maxTotal int, rs []*loki.Result) *loki.Result {
	n := 0
	for _, r := range rs {
		n += len(r.Records)
	}
	out := &loki.Result{Records: make([]timeline.LogRecord, 0, min(n, maxTotal))}
	for _, r := range rs {
		out.Pages += r.Pages
		out.Notices = append(out.Notices, r.Notices...)
		if out.Truncated {
			continue // past the cut
		}
		if room := maxTotal - len(out.Records); len(r.Records) > room {
			out.Records = append(out.Records, r.Records[:room]...)
			out.Truncated = true
		} else {
			out.Records = append(out.Records, r.Records...)
			out.Truncated = r.Truncated
		}
	}
	return out
}

// maxTotalLines is the cap the Loki client applies, with its default.
func (e *Engine) maxTotalLines() int {
	if n := e.cfg.Loki.MaxTotalLines; n > 0 {
		return n
	}
	return models.DefaultLokiMaxTotal
}
