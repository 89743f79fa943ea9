// Package loki finds the log lines of one trace in Grafana Loki, or of the
// many traces a search found at once (QueryTraces): it builds the LogQL
// trace filter, pages through query_range without losing or repeating
// lines, and decodes the answer into timeline.LogRecords with service,
// severity and trace/span IDs filled in.
package loki

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"

	"github.com/traceweave/traceweave/internal/safetext"
	"github.com/traceweave/traceweave/internal/upstream"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// API paths used.
const (
	pathReady      = "/ready"
	pathQueryRange = "/loki/api/v1/query_range"
	pathLabels     = "/loki/api/v1/labels"
)

// encodingFlagsHeader asks Loki (3.0+) to keep index labels, structured
// metadata and parsed labels apart; older Loki ignores it and merges them
// into the stream labels, which the decoder also reads.
const (
	encodingFlagsHeader = "X-Loki-Response-Encoding-Flags"
	categorizeLabels    = "categorize-labels"
)

// maxInstantGrowth bounds how far the page limit is raised to read the lines
// of one timestamp that do not fit in a page (limit × 2, × 4, × 8).
const maxInstantGrowth = 8

// healthRange is the look-back of the health check's labels request: short,
// so the check is cheap on a big Loki.
const healthRange = 5 * time.Minute

// Client queries one Loki for the log lines of a trace. It is safe for
// concurrent use.
type Client struct {
	http     *http.Client
	base     string
	host     string
	selector string
	filter   string
	maxLines int
	maxTotal int
	// parallel is loki.parallelQueries: how many slots of time the rest of
	// a query may be read in at once once its first page shows it is large.
	parallel int
	// timeout is loki.timeout, named in timeout errors so a slow Loki is not reported as a down one.
	timeout time.Duration
	// transport is the SDK client's own transport: the SDK wraps it in
	// middleware, which hides its CloseIdleConnections from http.Client's.
	transport *http.Transport
}

// Result is what Query found.
type Result struct {
	// Records are the matching lines in time order, each once.
	Records []timeline.LogRecord
	// Truncated is true when loki.maxTotalLines stopped the query while Loki
	// had more lines; the plugin shows a notice then.
	Truncated bool
	// Pages counts the query_range requests made.
	Pages int
	// Notices describe lines that could not be read (see Query), for the
	// frame's notices.
	Notices []string
}

// New builds a client from the Loki settings. Unset fields get the models
// defaults (models.LokiSettings.WithDefaults, the rule LoadSettings
// applies); the HTTP client comes from upstream.ClientOptions (auth, tenant
// header, custom headers, TLS, timeouts, SDK middlewares).
func New(cfg models.LokiSettings) (*Client, error) {
	return NewFrom(httpclient.Options{}, cfg)
}

// NewFrom is New on top of base, the options Grafana configures for every
// datasource (backend.DataSourceInstanceSettings.HTTPClientOptions); see
// upstream.ClientOptionsFrom for which of them apply.
func NewFrom(base httpclient.Options, cfg models.LokiSettings) (*Client, error) {
	cfg = cfg.WithDefaults()
	u, err := models.UpstreamURL("loki.url", cfg.URL, "http://loki:3100")
	if err != nil {
		return nil, err
	}
	if err := models.ValidateSelector(cfg.Selector); err != nil {
		return nil, fmt.Errorf("%w: loki.selector: %w", models.ErrInvalidSettings, err)
	}
	if BuildQueries(cfg.Selector, cfg.TraceFilter, "1") == nil {
		return nil, fmt.Errorf("%w: loki.traceFilter %q is not one of auto, structured, line", models.ErrInvalidSettings, clip(cfg.TraceFilter, 40))
	}
	if cfg.MaxLines < 1 || cfg.MaxTotalLines < 1 || cfg.ParallelQueries < 1 {
		return nil, fmt.Errorf("%w: loki.maxLines, loki.maxTotalLines and loki.parallelQueries must be at least 1", models.ErrInvalidSettings)
	}
	c := &Client{
		base:     u.String(),
		host:     u.Host,
		selector: cfg.Selector,
		filter:   cfg.TraceFilter,
		maxLines: cfg.MaxLines,
		maxTotal: cfg.MaxTotalLines,
		parallel: cfg.ParallelQueries,
		timeout:  time.Duration(cfg.Timeout),
	}
	opts := upstream.ClientOptionsFrom(base, cfg.HTTPUpstream)
	opts.ConfigureTransport = func(_ httpclient.Options, t *http.Transport) { c.transport = t }
	hc, err := httpclient.New(opts)
	if err != nil {
		return nil, fmt.Errorf("loki: building the HTTP client: %w", err)
	}
	c.http = hc
	return c, nil
}

// Close releases idle connections; the client must not be used afterwards.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// Query returns every line of trace traceID in [startNs, endNs) (Unix ns, end
// exclusive) that the configured trace filter matches, up to
// loki.maxTotalLines.
//
// Lines are read forward in pages of loki.maxLines. A full page continues
// from its last timestamp, skipping the lines of that timestamp it already
// returned (counted per stream, time and text), so lines sharing a
// timestamp across a page edge are returned once each. When a whole page
// has one timestamp, that instant is re-read alone with a larger limit;
// if Loki refuses the limit or the instant still does not fit, the lines
// beyond it are missing and Result.Notices says so. When the first page is
// full, the rest of the range is read in slots of time with up to
// loki.parallelQueries requests at once, each slot paged the same way, and
// the slots' lines are joined in time order (see readSlots): the same lines
// as page after page, in fewer round trips.
//
// The trace ID is validated (models.NormalizeTraceID) before any request.
// After a failed page the records read so far are returned with the error.
func (c *Client) Query(ctx context.Context, traceID string, startNs, endNs int64) (*Result, error) {
	id, err := models.NormalizeTraceID(traceID)
	if err != nil {
		return nil, err
	}
	if endNs <= startNs {
		return nil, fmt.Errorf("%w: end %d is not after start %d", ErrInvalidTimeRange, endNs, startNs)
	}
	queries := BuildQueries(c.selector, c.filter, id)
	if len(queries) == 0 {
		return nil, fmt.Errorf("%w: loki.traceFilter %q", models.ErrInvalidSettings, clip(c.filter, 40))
	}
	res, _, err := c.run(ctx, passesOver(queries, startNs, endNs))
	return res, err
}

// pass is one LogQL expression read over one time range [start, end): a
// trace query is one, a search one per group of windows and chunk of IDs
// (QueryTraces).
type pass struct {
	query      string
	start, end int64
}

// passesOver is each query over the same range.
func passesOver(queries []string, start, end int64) []pass {
	ps := make([]pass, len(queries))
	for i, q := range queries {
		ps[i] = pass{q, start, end}
	}
	return ps
}

// run reads passes and unions their lines; it returns how many passes it
// started. One pass is read page after page (with parallel slots, see
// paginateFrom); several are read with up to loki.parallelQueries of them
// at once and joined in pass order (see passPlan), so the lines kept at
// loki.maxTotalLines and the error after a failed request are those of
// reading them one after the other. Lines that passes overlapping in time
// both return are kept once.
func (c *Client) run(ctx context.Context, passes []pass) (*Result, int, error) {
	col := &collector{res: &Result{}, max: c.maxTotal, requests: make(chan struct{}, c.parallel)}
	if overlapping(passes) {
		col.union = make(map[lineKey]int)
	}
	var err error
	started := len(passes)
	if len(passes) == 1 {
		err = c.paginate(ctx, passes[0].query, passes[0].start, passes[0].end, col)
	} else {
		started, err = c.readConcurrently(ctx, &passPlan{passes: passes, parallel: c.parallel}, col, c.parallel)
	}
	res := col.res
	// One pass's lines arrive in time order (every page is sorted where it
	// is read, see page); a second pass's lines follow the first's.
	if byTime := func(a, b timeline.LogRecord) int { return cmp.Compare(a.TimeNs, b.TimeNs) }; !slices.IsSortedFunc(res.Records, byTime) {
		slices.SortStableFunc(res.Records, byTime)
	}
	return res, started, err
}

// overlapping reports whether two passes share some time: only then can
// one line come from two of them.
func overlapping(passes []pass) bool {
	byStart := slices.SortedFunc(slices.Values(passes), func(a, b pass) int { return cmp.Compare(a.start, b.start) })
	for i := 1; i < len(byStart); i++ {
		if byStart[i].start < byStart[i-1].end {
			return true
		}
		byStart[i].end = max(byStart[i].end, byStart[i-1].end) // the latest end so far
	}
	return false
}

// lineKey identifies a line: Loki keeps one copy of identical lines of a stream.
type lineKey struct {
	stream string
	ts     int64
	line   string
}

func keyOf(e *entry) lineKey { return lineKey{e.stream, e.rec.TimeNs, e.rec.Body} }

// collector accumulates the records of a query, capped at max.
type collector struct {
	res *Result
	max int
	// union and local deduplicate across passes (nil unless passes overlap
	// in time, see run): a line is kept when this pass has returned it more
	// often than all earlier passes together.
	union, local map[lineKey]int
	// ofSlot marks the collector of one slot (see readConcurrently): it
	// keeps whole entries, for the query's collector to add in order.
	ofSlot  bool
	entries []entry
	// requests holds a token per query_range request in flight, shared by
	// every collector of one run: loki.parallelQueries bounds the requests
	// of a search's passes and their slots together, as it bounds those of
	// one query.
	requests chan struct{}
}

// kept is how many lines the collector holds.
func (c *collector) kept() int {
	if c.ofSlot {
		return len(c.entries)
	}
	return len(c.res.Records)
}

func (c *collector) full() bool { return c.kept() >= c.max }

// child is the collector of one slot of c's read.
func (c *collector) child() *collector {
	return &collector{res: &Result{}, max: c.max, ofSlot: true, requests: c.requests}
}

// add keeps e; false means the cap was already reached.
func (c *collector) add(e *entry) bool {
	if c.ofSlot {
		if c.full() {
			return false
		}
		c.entries = append(c.entries, *e)
		return true
	}
	if c.union != nil {
		k := keyOf(e)
		c.local[k]++
		if c.local[k] <= c.union[k] {
			return true
		}
		c.union[k] = c.local[k]
	}
	if c.full() {
		return false
	}
	c.res.Records = append(c.res.Records, e.rec)
	return true
}

// paginate reads one query from start to end into col.
func (c *Client) paginate(ctx context.Context, query string, start, end int64, col *collector) error {
	return c.paginateFrom(ctx, query, start, end, nil, col, c.parallel)
}

// paginateFrom reads one query from start to end into col, page after page.
// boundary counts the lines at timestamp start that were already returned.
//
// When the first page is full, the rest is read with up to parallel
// requests at once (readSlots): a 100k-line trace is eleven 5,000-line
// pages, and read one after the other they cost eleven Loki round trips.
// The slots are read with parallel = 1.
func (c *Client) paginateFrom(ctx context.Context, query string, start, end int64, boundary map[lineKey]int, col *collector, parallel int) error {
	limit := c.maxLines
	first := true
	for start < end {
		if col.full() {
			// The previous page was full: Loki has more.
			col.res.Truncated = true
			return nil
		}
		entries, err := c.page(ctx, col.requests, query, start, end, limit)
		col.res.Pages++
		if err != nil {
			return err
		}
		last := start
		for i := range entries {
			e := &entries[i]
			if e.rec.TimeNs > last {
				last = e.rec.TimeNs
			}
			if e.rec.TimeNs == start && boundary != nil {
				if k := keyOf(e); boundary[k] > 0 {
					boundary[k]--
					continue
				}
			}
			if !col.add(e) {
				col.res.Truncated = true
				return nil
			}
		}
		if len(entries) < limit {
			return nil
		}
		if last == start {
			// A full page of one timestamp: moving start cannot get past it.
			seen := make(map[lineKey]int, len(entries)+len(boundary))
			for k, n := range boundary {
				seen[k] = n // lines of earlier pages this page did not repeat
			}
			for i := range entries {
				seen[keyOf(&entries[i])]++
			}
			if err := c.readInstant(ctx, query, start, limit, seen, col); err != nil || col.res.Truncated {
				return err
			}
			start, boundary = start+1, nil
			continue
		}
		boundary = make(map[lineKey]int)
		for i := range entries {
			if entries[i].rec.TimeNs == last {
				boundary[keyOf(&entries[i])]++
			}
		}
		if first && parallel > 1 && !col.full() {
			return c.readSlots(ctx, query, last, end, boundary, col, lineSpan(entries), parallel)
		}
		first = false
		start = last
	}
	return nil
}

// lineSpan is the time the lines of a page cover, from its first line to
// its last (at least 1 ns; pages are in time order, see sortByTime): at
// that page's density, the time a page of lines takes.
func lineSpan(entries []entry) int64 {
	if len(entries) == 0 {
		return 1
	}
	return max(entries[len(entries)-1].rec.TimeNs-entries[0].rec.TimeNs, 1)
}

// slot is one time range of one query read on its own, page after page,
// into its own collector.
type slot struct {
	query    string
	from, to int64
	// parallel is the slot's own paginateFrom parallel: a search's pass may
	// be read in time slots itself.
	parallel int
	boundary map[lineKey]int
	col      *collector
	err      error
	cancel   context.CancelFunc
}

// slotPlan hands readConcurrently its slots, in the order their lines are
// joined.
type slotPlan interface {
	// next is the slot to start next; thin reports that a slot just
	// finished with few lines (see timeSlots).
	next(thin bool) *slot
	// done reports that every slot has been handed out.
	done() bool
	// trims reports that a line a Loki returns at its slot's end instant
	// belongs to the next slot (time slots of one query).
	trims() bool
	// rest sets col.res.Truncated after the read stopped short at the cap:
	// whether Loki has lines in what was never started.
	rest(ctx context.Context, c *Client, col *collector) error
}

// readSlots reads [from, end) of a query after a full first page whose
// lines covered width ns, with up to parallel requests at once. The rest is
// cut in slots of width (about a page each at the first page's density),
// read concurrently, each page after page. A trace's lines crowd in the
// trace's own time while its window runs minutes past it, so the slots
// stop where the lines thin out: after a slot with fewer than a quarter
// page of lines (or none), everything left is one last slot. Every slot
// but the last few holds that many lines, so there are at most about four
// slots per page of lines.
//
// The first slot starts with boundary, the lines at from the first page
// returned. A line a Loki returns at its slot's end instant belongs to the
// next slot (query_range ends are exclusive) and is dropped from the
// earlier one. How the slots are started and joined is readConcurrently's.
func (c *Client) readSlots(ctx context.Context, query string, from, end int64, boundary map[lineKey]int, col *collector, width int64, parallel int) error {
	_, err := c.readConcurrently(ctx, &timeSlots{query: query, from: from, end: end, width: width, boundary: boundary}, col, parallel)
	return err
}

// timeSlots is the slotPlan of readSlots.
type timeSlots struct {
	query     string
	from, end int64
	width     int64
	boundary  map[lineKey]int
	last      bool // the final slot, up to end, is handed out
}

func (p *timeSlots) next(thin bool) *slot {
	to := p.end
	if !thin && p.end-p.from > p.width {
		to = p.from + p.width
	}
	sl := &slot{query: p.query, from: p.from, to: to, parallel: 1, boundary: p.boundary}
	p.from, p.last, p.boundary = to, to == p.end, nil
	return sl
}

func (p *timeSlots) done() bool  { return p.last }
func (p *timeSlots) trims() bool { return true }

// rest asks for one line of what is left: one is enough to tell.
func (p *timeSlots) rest(ctx context.Context, c *Client, col *collector) error {
	probe, err := c.page(ctx, col.requests, p.query, p.from, p.end, 1)
	col.res.Pages++
	if err != nil {
		return err
	}
	col.res.Truncated = len(probe) > 0
	return nil
}

// passPlan is the slotPlan of run's passes: each pass is a slot, read with
// parallel slots of its own when its first page is full (the run's
// collector's request tokens keep the requests at once within parallel).
type passPlan struct {
	passes   []pass
	parallel int
	i        int // passes handed out
}

func (p *passPlan) next(bool) *slot {
	ps := p.passes[p.i]
	p.i++
	return &slot{query: ps.query, from: ps.start, to: ps.end, parallel: p.parallel}
}

func (p *passPlan) done() bool { return p.i == len(p.passes) }

// trims is false: a pass's lines are all its own, as a trace query's are.
func (p *passPlan) trims() bool { return false }

// rest asks each pass never started for one line until one has some: the
// cap only stops a read early when passes do not overlap (see capped in
// readConcurrently), so any line of theirs is one more line.
func (p *passPlan) rest(ctx context.Context, c *Client, col *collector) error {
	for _, ps := range p.passes[p.i:] {
		probe, err := c.page(ctx, col.requests, ps.query, ps.start, ps.end, 1)
		col.res.Pages++
		if err != nil || len(probe) > 0 {
			col.res.Truncated = err == nil
			return err
		}
	}
	return nil
}

// readConcurrently reads the slots of plan with up to parallel at once,
// each into its own collector, and returns how many it started.
//
// The slots' lines are added to col slot after slot, so col receives them
// in the order a reader of one slot after the other would: the same lines,
// the same cut at loki.maxTotalLines (every page is sorted by time where it
// is read, see sortByTime), the same error after the lines read before it.
// No slot is started once the slots read hold the lines the cap still
// allows (with overlapping passes: a later pass's lines that an earlier
// one returned do not count), and what was not read is then reported as
// truncated, as a reader stopping at the cap does (plan.rest).
func (c *Client) readConcurrently(ctx context.Context, plan slotPlan, col *collector, parallel int) (int, error) {
	var slots []*slot
	finished := make(chan *slot)
	inFlight, gathered := 0, 0
	stop := false // a slot failed or hit the cap, or the cap is covered
	launch := func(sl *slot) {
		sctx, cancel := context.WithCancel(ctx)
		sl.col, sl.cancel = col.child(), cancel
		slots = append(slots, sl)
		inFlight++
		go func() {
			sl.err = c.paginateFrom(sctx, sl.query, sl.from, sl.to, sl.boundary, sl.col, sl.parallel)
			finished <- sl
		}()
	}
	// Slots in flight are counted a page each: no slot is started that the
	// cap could not use.
	capped := func() bool {
		return col.union == nil && gathered+inFlight*c.maxLines >= col.max-col.kept()
	}
	for {
		for !stop && !plan.done() && inFlight < parallel && (inFlight == 0 || !capped()) {
			launch(plan.next(false))
		}
		if inFlight == 0 {
			break
		}
		sl := <-finished
		inFlight--
		gathered += len(sl.col.entries)
		if sl.err != nil || sl.col.res.Truncated {
			// Nothing after this slot will be used: stop the later
			// slots, not the earlier ones, whose lines and errors come
			// first.
			for _, later := range slots[slices.Index(slots, sl)+1:] {
				later.cancel()
			}
			stop = true
		}
		if inFlight == 0 && capped() {
			stop = true
		}
		if !stop && !plan.done() && len(sl.col.entries) < max(1, c.maxLines/4) && (inFlight == 0 || !capped()) {
			launch(plan.next(true))
		}
	}

	total := 0
	for _, sl := range slots {
		sl.cancel()
		col.res.Pages += sl.col.res.Pages
		total += len(sl.col.entries)
	}
	// One allocation for the joined lines, instead of doubling through them.
	if room := min(total, col.max-col.kept()); col.ofSlot {
		col.entries = slices.Grow(col.entries, room)
	} else {
		col.res.Records = slices.Grow(col.res.Records, room)
	}
	for i, sl := range slots {
		cc := sl.col
		col.res.Notices = append(col.res.Notices, cc.res.Notices...)
		if col.union != nil {
			col.local = make(map[lineKey]int)
		}
		trim := plan.trims() && i < len(slots)-1
		for j := range cc.entries {
			e := &cc.entries[j]
			if trim && e.rec.TimeNs >= sl.to {
				continue
			}
			if !col.add(e) {
				col.res.Truncated = true
				return len(slots), nil
			}
		}
		if sl.err != nil {
			return len(slots), sl.err
		}
		if cc.res.Truncated {
			col.res.Truncated = true
			return len(slots), nil
		}
	}
	if !plan.done() {
		// Stopped short because the slots held the lines the cap allows
		// and col took them all: whether Loki has more decides Truncated.
		return len(slots), plan.rest(ctx, c, col)
	}
	return len(slots), nil
}

// readInstant reads the lines of one timestamp ts, [ts, ts+1), with a
// growing limit, and adds those not in seen. Loki refuses limits above its
// max_entries_limit_per_query (default 5000) with 400: then, or when even the
// largest limit is full, the lines past it are reported missing.
func (c *Client) readInstant(ctx context.Context, query string, ts int64, limit int, seen map[lineKey]int, col *collector) error {
	var best []entry
	fits := false
	for l := limit * 2; l <= limit*maxInstantGrowth; l *= 2 {
		entries, err := c.page(ctx, col.requests, query, ts, ts+1, l)
		col.res.Pages++
		if upstream.StatusOf(err) == http.StatusBadRequest {
			break // the limit is above what this Loki allows
		}
		if err != nil {
			return err
		}
		best = entries
		if len(entries) < l {
			fits = true
			break
		}
	}
	for i := range best {
		e := &best[i]
		if k := keyOf(e); seen[k] > 0 {
			seen[k]--
			continue
		}
		if !col.add(e) {
			col.res.Truncated = true
			return nil
		}
	}
	if !fits {
		n := max(limit, len(best))
		col.res.Notices = append(col.res.Notices, fmt.Sprintf(
			"Loki: more than %d lines share the timestamp %s; only the first %d were read (Loki's max_entries_limit_per_query)",
			n, time.Unix(0, ts).UTC().Format(time.RFC3339Nano), n))
	}
	return nil
}

// page makes one query_range request, once it holds one of the requests
// tokens (nil: no bound).
func (c *Client) page(ctx context.Context, requests chan struct{}, query string, start, end int64, limit int) (got []entry, err error) {
	if err := ctx.Err(); err != nil {
		return nil, c.transportError(ctx, err)
	}
	if requests != nil {
		select {
		case requests <- struct{}{}:
			defer func() { <-requests }()
		case <-ctx.Done():
			return nil, c.transportError(ctx, ctx.Err())
		}
	}
	ctx, span := startPageSpan(ctx, start, end, limit)
	defer func() { endPageSpan(ctx, span, len(got), err) }()
	q := url.Values{}
	q.Set("query", query)
	q.Set("start", strconv.FormatInt(start, 10))
	q.Set("end", strconv.FormatInt(end, 10))
	q.Set("limit", strconv.Itoa(limit))
	q.Set("direction", "forward")
	resp, err := c.get(ctx, pathQueryRange, q, http.Header{encodingFlagsHeader: {categorizeLabels}})
	if err != nil {
		return nil, err
	}
	defer closeBody(resp.Body)
	// A login page or proxy error with status 200 is not a Loki answer: say
	// what came back instead of a JSON parser's complaint about it.
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") {
		return nil, badResponse(fmt.Errorf("%w: loki at %s answered %s, not JSON; is loki.url a Loki?", ErrBadResponse, c.host, safetext.Clip([]byte(ct), 100)))
	}
	entries, err := decodeResponse(resp.Body)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, c.transportError(ctx, ctxErr)
		}
		// The parser quotes raw body bytes: keep them printable and short.
		detail := strings.TrimPrefix(err.Error(), ErrBadResponse.Error()+": ")
		return nil, badResponse(fmt.Errorf("%w: %s", ErrBadResponse, safetext.Clip([]byte(detail), 200)))
	}
	return sortByTime(entries), nil
}

// sortByTime orders a page's entries by time, stably. Loki groups a page
// by stream, each stream in time order; sorting here, in the goroutine
// that waited for the page, leaves a query's lines in time order once its
// pages are joined (pages follow each other in time), so no sort of the
// whole result waits after the last page (at 100k lines that sort of
// ~190-byte records took 8-37 ms on the query's critical path). It also
// makes the lines kept at loki.maxTotalLines the earliest ones, wherever
// pages begin. The permutation is sorted as 16-byte keys and the entries
// moved once, into a new slice.
func sortByTime(entries []entry) []entry {
	if slices.IsSortedFunc(entries, func(a, b entry) int { return cmp.Compare(a.rec.TimeNs, b.rec.TimeNs) }) {
		return entries
	}
	type key struct {
		ns int64
		i  int
	}
	keys := make([]key, len(entries))
	for i := range entries {
		keys[i] = key{entries[i].rec.TimeNs, i}
	}
	slices.SortFunc(keys, func(a, b key) int { // the index breaks ties: stable
		return cmp.Or(cmp.Compare(a.ns, b.ns), cmp.Compare(a.i, b.i))
	})
	sorted := make([]entry, len(entries))
	for j, k := range keys {
		sorted[j] = entries[k.i]
	}
	return sorted
}

// CheckHealth tells whether Loki can answer Traceweave's queries: GET /ready
// (Loki is up and its ring is ready), then a labels request over the last
// five minutes, which goes through the same auth and tenant as queries. The
// error says what is wrong: unreachable (ErrUnreachable), credentials
// (ErrAuth), or Loki's status and text (*upstream.Error).
func (c *Client) CheckHealth(ctx context.Context) error {
	resp, err := c.get(ctx, pathReady, nil, nil)
	if err != nil {
		return err
	}
	closeBody(resp.Body)
	now := time.Now()
	q := url.Values{}
	q.Set("start", strconv.FormatInt(now.Add(-healthRange).UnixNano(), 10))
	q.Set("end", strconv.FormatInt(now.UnixNano(), 10))
	resp, err = c.get(ctx, pathLabels, q, nil)
	if err != nil {
		return err
	}
	defer closeBody(resp.Body)
	var body struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil || body.Status != "success" {
		return badResponse(fmt.Errorf("%w: %s did not return a successful JSON answer; is %s a Loki?", ErrBadResponse, pathLabels, c.host))
	}
	return nil
}

// get sends a GET and returns a 2xx response; the caller closes its body.
// Other statuses become an *upstream.Error with the status and Loki's text,
// transport failures one of kind ErrUnreachable, ErrTimeout or ErrCanceled.
func (c *Client) get(ctx context.Context, path string, q url.Values, h http.Header) (*http.Response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("loki: building the request for %s: %w", path, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	for retried := false; ; retried = true {
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, c.transportError(ctx, err)
		}
		if resp.StatusCode/100 == 2 {
			return resp, nil
		}
		// A busy Loki (429: too many outstanding requests, 503) may say
		// when to come back: a short wait is worth one more try.
		if wait, ok := upstream.RetrySoon(resp, time.Now()); ok && !retried {
			closeBody(resp.Body)
			if err := upstream.Sleep(ctx, wait); err != nil {
				return nil, c.transportError(ctx, err)
			}
			continue
		}
		defer closeBody(resp.Body)
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, newStatusError(resp.StatusCode, path, b)
	}
}

// transportError classifies a request that got no HTTP answer: cancelled,
// timed out (naming loki.timeout, so a slow Loki is not reported as a down
// one) or unreachable.
func (c *Client) transportError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		// url.Error's text repeats the URL with its query; the cause is enough.
		err = ue.Err
	}
	if ctxErr := ctx.Err(); errors.Is(ctxErr, context.Canceled) {
		return &upstream.Error{Upstream: upstream.Loki, Kind: upstream.ErrCanceled,
			Message: fmt.Sprintf("request to loki at %s cancelled: %v", c.host, ctxErr), Err: ctxErr}
	}
	var nerr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &nerr) && nerr.Timeout()) {
		within := "the query deadline"
		if c.timeout > 0 {
			within = c.timeout.String() + " (loki.timeout)"
		}
		// The cause is left out of the text: whether the HTTP client or the
		// context noticed first is noise.
		return &upstream.Error{Upstream: upstream.Loki, Kind: upstream.ErrTimeout,
			Message: fmt.Sprintf("loki at %s did not answer within %s", c.host, within), Err: err}
	}
	return &upstream.Error{Upstream: upstream.Loki, Kind: ErrUnreachable,
		Message: fmt.Sprintf("loki at %s is unreachable: %v", c.host, err), Err: err}
}

// closeBody drains a little of what is left (so the connection can be
// reused) and closes the body.
func closeBody(b io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(b, 64<<10))
	_ = b.Close()
}
