package timeline

import (
	"cmp"
	"encoding/json"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
)

// Merge builds the merged model from a trace (nil or without spans for a
// log-only result, whose StartNs/EndNs then come from the logs) and log
// records from any number of sources. logSets come in source order — Loki
// first, then Kafka topics in configuration order — and that order is the
// order of Log.Sources for a line found in several places.
//
// Logs whose non-empty TraceID differs from the trace's are kept: the
// upstream found them by the trace ID in their text (a job of another trace
// that names this one, say), and hiding them would lose evidence. They stay
// trace-level (AttachNone): their span ID names a span of their own trace,
// and their time says nothing about which of this trace's spans they belong
// to. They never deduplicate with this trace's lines.
//
// Merge does not modify its inputs and calls Summarize, so the returned
// model carries its Summary, span self times and critical path. The model's
// logs point into logSets (see Log.LogRecord): the caller must not change
// the records while it uses the model.
func Merge(tr *Trace, logSets ...[]LogRecord) *Model {
	m := &Model{}
	if tr != nil {
		m.TraceID = tr.TraceID
		m.TierStyles = tr.TierStyles
		if m.TraceID == "" && len(tr.Spans) > 0 {
			m.TraceID = tr.Spans[0].TraceID
		}
	}
	if m.TraceID == "" {
		m.TraceID = dominantTraceID(logSets)
	}
	// The spans and the logs are independent until logs are attached, and
	// so are the events list and the summary after: on a large result each
	// pair runs on two cores (this merge is on the query's critical path,
	// after the last source answered).
	parallel := totalRecords(logSets) >= parallelMergeMin
	both(parallel, func() {
		if tr != nil {
			m.Spans = buildSpanNodes(tr.Spans)
		}
		m.spanIndex = indexSpans(m.Spans)
	}, func() { m.Logs = dedupLogs(m.TraceID, logSets) })
	attachLogs(m)
	m.StartNs, m.EndNs = extent(m)
	// interleave reads the spans' start times, Summarize writes their self
	// times and critical flags: distinct fields.
	both(parallel, func() { m.Events = interleave(m) }, func() { Summarize(m) })
	return m
}

// parallelMergeMin is the number of log records from which Merge runs its
// independent steps concurrently; below it a goroutine costs more than it
// saves.
const parallelMergeMin = 20_000

// both runs a and b, concurrently when parallel is set, and returns when
// both are done.
func both(parallel bool, a, b func()) {
	if !parallel {
		a()
		b()
		return
	}
	var wg sync.WaitGroup
	wg.Go(b)
	a()
	wg.Wait()
}

func totalRecords(logSets [][]LogRecord) int {
	n := 0
	for _, set := range logSets {
		n += len(set)
	}
	return n
}

// dominantTraceID names a log-only model after the trace ID most of its
// lines carry (ties: the one seen first), so that lines without a trace ID
// (Kafka raw encoding) deduplicate against the others.
func dominantTraceID(logSets [][]LogRecord) string {
	counts := map[string]int{}
	best, bestN := "", 0
	for _, set := range logSets {
		for i := range set {
			id := set[i].TraceID
			if id == "" {
				continue
			}
			counts[id]++
			if n := counts[id]; n > bestN {
				best, bestN = id, n
			}
		}
	}
	return best
}

// indexSpans maps span IDs to their index in spans; a duplicated ID keeps
// its first (earliest) occurrence.
func indexSpans(spans []SpanNode) map[string]int {
	byID := make(map[string]int, len(spans))
	for i := range spans {
		if _, dup := byID[spans[i].SpanID]; !dup {
			byID[spans[i].SpanID] = i
		}
	}
	return byID
}

// buildSpanNodes copies the spans, computes depths (orphans whose parent is
// missing are roots; a cycle in broken data is cut at the span where the
// walk meets it again, which becomes a root) and sorts them by start time,
// parents before children at equal times (by depth), then by span ID.
func buildSpanNodes(spans []Span) []SpanNode {
	nodes := make([]SpanNode, len(spans))
	byID := make(map[string]int, len(spans))
	for i := range spans {
		nodes[i].Span = spans[i]
		if _, dup := byID[spans[i].SpanID]; !dup {
			byID[spans[i].SpanID] = i
		}
	}
	const unknown, visiting = -1, -2
	depth := make([]int, len(nodes))
	for i := range depth {
		depth[i] = unknown
	}
	var chain []int
	for i := range nodes {
		// Walk up until a known depth or a root, then assign on the way back.
		chain = chain[:0]
		j := i
		base := 0
		for {
			if depth[j] >= 0 {
				base = depth[j] + 1
				break
			}
			if depth[j] == visiting { // cycle: the last span walked becomes a root
				base = 0
				break
			}
			depth[j] = visiting
			chain = append(chain, j)
			p, ok := byID[nodes[j].ParentSpanID]
			if nodes[j].ParentSpanID == "" || !ok || p == j {
				base = 0
				break
			}
			j = p
		}
		for k := len(chain) - 1; k >= 0; k-- {
			depth[chain[k]] = base
			base++
		}
	}
	for i := range nodes {
		nodes[i].Depth = depth[i]
		nodes[i].Error = nodes[i].StatusCode == StatusError
	}
	sortStable(nodes, func(s *SpanNode) int64 { return s.StartNs }, func(a, b *SpanNode) int {
		if c := cmp.Compare(a.Depth, b.Depth); c != 0 {
			return c
		}
		return strings.Compare(a.SpanID, b.SpanID)
	})
	return nodes
}

// dedupKey identifies one line seen in several sources: its trace, its
// time truncated to the millisecond (Kafka encodings and shippers keep ms
// where Loki keeps ns, and truncating — not rounding — makes 12.3456 ms
// and 12 ms agree) and its normalised body.
type dedupKey struct {
	trace string
	ms    int64
	body  string
}

// dedupLogs flattens the sources into one time-ordered list (stable: equal
// times keep input order), merging the same line found in several places
// into one Log listing all of them. The same line twice in one source
// (Kafka's at-least-once redelivery writes a record again at a new offset)
// merges too, listing the source once.
//
// Lines are looked up by a 64-bit hash of their dedupKey in a lineTable
// (cheaper at 100k lines than a Go map keyed by strings, and than one keyed
// by the hash, which took a lookup and an insert per line); a match is
// confirmed against the key of the line's first record (merging never
// changes it: a duplicate has the same key).
//
// Every Log is written once, in its final place: Logs are ~200-byte
// structs, and building them in input order and then sorting them moved
// each twice through memory. The first pass only notes, in input order,
// each distinct line's first record (its time and input position order
// it) and chains each duplicate to it. sortPerm orders the first records —
// one time-ordered run per source, merged in O(n log k) — and the second
// pass copies each first record to its place and merges its duplicates
// into it in input order, which gives what merging each duplicate as it
// came would. Records are named by their global index (position in the
// concatenated sets), so the total must fit in an int32.
func dedupLogs(traceID string, logSets [][]LogRecord) []Log {
	return dedupLogsMasked(traceID, logSets, ^uint64(0))
}

// dedupLogsMasked is dedupLogs keeping only the hash bits in mask: tests
// narrow it to force collisions through the confirmation path.
func dedupLogsMasked(traceID string, logSets [][]LogRecord, mask uint64) []Log {
	starts := make([]int32, len(logSets)+1) // global index of each set's first record
	for s, set := range logSets {
		starts[s+1] = starts[s] + int32(len(set))
	}
	total := int(starts[len(logSets)])
	record := func(g int32) *LogRecord {
		s := 0
		for starts[s+1] <= g {
			s++
		}
		return &logSets[s][g-starts[s]]
	}
	firsts := make([]permEntry, 0, total) // per distinct line: time, global index, set
	quoted := make([]bool, total)         // by global index: normalizeBody stripped JSON quotes
	table := newLineTable(total)
	var dups []dupRecord
	var lastDup []int32 // by global index of a first record: 1 + index in dups of its latest duplicate
	duplicated := 0     // lines with duplicates
	seed := maphash.MakeSeed()
	lastTrace, traceHash := "", uint64(0)
	for s, set := range logSets {
		for pos := range set {
			r := &set[pos]
			g := starts[s] + int32(pos)
			body, q := normalizeBody(r.Body)
			k := dedupKey{trace: cmp.Or(r.TraceID, traceID), ms: floorDiv(r.TimeNs, 1e6), body: body}
			if k.trace != lastTrace || traceHash == 0 {
				lastTrace, traceHash = k.trace, maphash.String(seed, k.trace)|1
			}
			h := (maphash.String(seed, k.body) ^ traceHash ^ uint64(k.ms)*0x9e3779b97f4a7c15) & mask
			// Probe for the line; an empty slot ends the search and takes it.
			first := int32(-1)
			for slot := h & table.mask; ; slot = (slot + 1) & table.mask {
				e := table.slots[slot]
				if e == 0 {
					table.slots[slot] = table.entry(h, g)
					break
				}
				if f, ok := table.candidate(e, h); ok && sameLine(record(f), r, k, traceID) {
					first = f
					break
				}
			}
			if first >= 0 {
				if lastDup == nil {
					lastDup = make([]int32, total)
				}
				if lastDup[first] == 0 {
					duplicated++
				}
				dups = append(dups, dupRecord{set: int32(s), pos: int32(pos), prev: lastDup[first], quoted: q})
				lastDup[first] = int32(len(dups))
				continue
			}
			quoted[g] = q
			firsts = append(firsts, permEntry{k: r.TimeNs, i: g, aux: int32(s)})
		}
	}
	sortPerm(firsts, nil)

	logs := make([]Log, len(firsts))
	single := make([]sourceSlices, len(logSets)) // per set: a set's lines mostly share one source
	// A line with duplicates gets room for all its sources in one array
	// shared by such lines, so that mergeInto's appends stay in place
	// instead of allocating per line.
	var spare []string
	var merged []LogRecord // the copies that duplicated lines are merged into
	if duplicated > 0 {
		spare = make([]string, duplicated+len(dups))
		merged = make([]LogRecord, 0, duplicated)
	}
	var chain []int32
	for x := range firsts {
		e := &firsts[x]
		r := &logSets[e.aux][e.i-starts[e.aux]]
		l := &logs[x]
		l.LogRecord = r
		l.Sources = single[e.aux].of(r.Source)
		if lastDup == nil || lastDup[e.i] == 0 {
			continue
		}
		// mergeInto fills in this line's record: a copy, the input is
		// never modified.
		merged = append(merged, *r)
		l.LogRecord = &merged[len(merged)-1]
		chain = chain[:0]
		for d := lastDup[e.i]; d != 0; d = dups[d-1].prev {
			chain = append(chain, d-1)
		}
		room := 1 + len(chain)
		l.Sources = append(spare[:0:room], l.Sources...)
		spare = spare[room:]
		q := quoted[e.i]
		for c := len(chain) - 1; c >= 0; c-- { // oldest first: input order
			dr := &dups[chain[c]]
			if mergeInto(l, &logSets[dr.set][dr.pos], q && !dr.quoted) {
				q = false
			}
		}
	}
	return logs
}

// dupRecord is a record that repeats an earlier line: where it is, the
// previous duplicate of the same line (1 + index in the dups list, 0 for
// none) and whether normalizeBody stripped JSON quotes from its body.
type dupRecord struct {
	set, pos, prev int32
	quoted         bool
}

// sameLine reports whether record a's dedupKey is k, the key of record b.
// a's body equal to b's spares normalising it again.
func sameLine(a, b *LogRecord, k dedupKey, traceID string) bool {
	if floorDiv(a.TimeNs, 1e6) != k.ms || cmp.Or(a.TraceID, traceID) != k.trace {
		return false
	}
	if a.Body == b.Body {
		return true
	}
	body, _ := normalizeBody(a.Body)
	return body == k.body
}

// sourceSlices hands out one shared one-element Sources slice per source,
// saving an allocation per line. Its capacity is 1, so mergeInto's append
// copies before adding a second source and never writes into the shared
// array; readers must not assign to Sources elements either.
type sourceSlices struct {
	last string
	s    []string
}

func (c *sourceSlices) of(src string) []string {
	if src == "" {
		return nil
	}
	if c.s == nil || c.last != src {
		c.last, c.s = src, []string{src}
	}
	return c.s[:1:1]
}

// floorDiv divides rounding towards minus infinity, so that times before
// 1970 (broken clocks) truncate like the others.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// normalizeBody makes the forms one line takes in different pipelines
// compare equal: kafkaexporter's raw encoding JSON-quotes string bodies
// (one level is stripped), shippers differ in trailing newlines and runs of
// spaces (trimmed and collapsed to one space). quoted reports whether a
// level of JSON quoting was stripped. A body needing none of this is
// returned as is, without allocating.
func normalizeBody(s string) (body string, quoted bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		var unq string
		if json.Unmarshal([]byte(s), &unq) == nil {
			s, quoted = strings.TrimSpace(unq), true
		}
	}
	if needsCollapse(s) {
		s = strings.Join(strings.Fields(s), " ")
	}
	return s, quoted
}

// needsCollapse reports whether s holds whitespace other than single spaces.
func needsCollapse(s string) bool {
	prevSpace := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ':
			if prevSpace {
				return true
			}
			prevSpace = true
		case '\t', '\n', '\r', '\v', '\f':
			return true
		default:
			prevSpace = false
			if s[i] >= 0x80 {
				// Non-ASCII: let strings.Fields decide (U+0085, U+00A0, U+2000…).
				return true
			}
		}
	}
	return false
}

// mergeInto adds a duplicate's source and fills the fields the first copy
// lacked — the span ID, service and trace ID of the first record that has
// them, the first severity that is not unknown — keeping the richest view
// of the line. takeBody replaces a JSON-quoted body with the duplicate's
// plain one; mergeInto reports whether it did.
func mergeInto(dst *Log, r *LogRecord, takeBody bool) bool {
	if r.Source != "" && !slices.Contains(dst.Sources, r.Source) {
		dst.Sources = append(dst.Sources, r.Source)
	}
	if dst.TraceID == "" {
		dst.TraceID = r.TraceID
	}
	if dst.SpanID == "" {
		dst.SpanID = r.SpanID
	}
	if dst.Service == "" {
		dst.Service = r.Service
	}
	if dst.Severity == "" || dst.Severity == SeverityUnknown {
		if r.Severity != "" {
			dst.Severity = r.Severity
		}
	}
	if takeBody {
		dst.Body = r.Body
	}
	// A new slice when r adds labels: the inputs are never modified.
	dst.Labels = MergeLabels(dst.Labels, r.Labels)
	return takeBody
}

// attachLogs ties each log to a span: by span ID when the span is in the
// trace, otherwise to the innermost span of the same service whose
// [start, end] holds the log's time (ties: the latest-starting), otherwise
// the log stays trace-level. It also sets each log's tier and each span's
// log list and error flag.
//
// Its bookkeeping is flat arrays indexed by small service numbers, not maps
// of growing slices: at 100k logs the per-log map updates, slice growth and
// per-span appends were most of its cost. The logs awaiting time
// attachment carry their time, so each service's sweep reads a compact
// array instead of striding through the ~200-byte Logs; every span's Logs
// list is cut from one array sized by a counting pass.
func attachLogs(m *Model) {
	// Services with spans get small numbers. A service's tier is that of its
	// shallowest span (its server span, not the MySQL client spans a Rails
	// service also emits).
	type service struct {
		tier  string
		depth int
		spans []int32 // indexes into m.Spans, in start order (m.Spans is sorted)
	}
	svcNum := map[string]int32{}
	var svcs []service
	for i := range m.Spans {
		s := &m.Spans[i]
		if s.Service == "" {
			continue
		}
		n, ok := svcNum[s.Service]
		if !ok {
			n = int32(len(svcs))
			svcNum[s.Service] = n
			svcs = append(svcs, service{tier: s.Tier, depth: s.Depth})
		} else if s.Depth < svcs[n].depth {
			svcs[n].tier, svcs[n].depth = s.Tier, s.Depth
		}
		svcs[n].spans = append(svcs[n].spans, int32(i))
	}

	// attached[i] is the span log i sits in, or notYet (a candidate for time
	// attachment) or foreign (another trace's line: trace-level, see Merge).
	const notYet, foreign = -1, -2
	attached := make([]int32, len(m.Logs))
	logSvc := make([]int32, len(m.Logs)) // service number of a log not attached by span ID, -1 for none
	svcStart := make([]int, len(svcs)+1) // counts, then where each service's pending logs start
	lastSvc, lastNum := "", int32(-1)    // consecutive logs often share a service; "" has no spans
	for i := range m.Logs {
		l := &m.Logs[i]
		isForeign := l.TraceID != "" && m.TraceID != "" && l.TraceID != m.TraceID
		if !isForeign && l.SpanID != "" {
			if j, ok := m.spanIndex[l.SpanID]; ok {
				attached[i], logSvc[i] = int32(j), -1 // the service is not needed
				l.Attach = AttachSpanID
				continue
			}
		}
		if l.Service != lastSvc {
			lastSvc, lastNum = l.Service, -1
			if n, ok := svcNum[l.Service]; ok {
				lastNum = n
			}
		}
		attached[i], logSvc[i] = notYet, lastNum
		if isForeign {
			attached[i] = foreign
		} else if lastNum >= 0 {
			svcStart[lastNum+1]++
		}
	}
	for n := range svcs {
		svcStart[n+1] += svcStart[n]
	}
	type pendingLog struct {
		t int64
		i int32
	}
	pending := make([]pendingLog, svcStart[len(svcs)]) // by service, each in time order
	fill := slices.Clone(svcStart[:len(svcs)])
	for i, j := range attached {
		if n := logSvc[i]; j == notYet && n >= 0 {
			pending[fill[n]] = pendingLog{m.Logs[i].TimeNs, int32(i)}
			fill[n]++
		}
	}

	// Sweep each service's spans and logs in time order. A heap holds the
	// spans that have started, innermost (deepest, then latest-starting) on
	// top; spans that ended before the current log are dropped when they
	// reach the top, and stay dropped because later logs are later still.
	h := spanHeap{spans: m.Spans}
	for n := range svcs {
		spans := svcs[n].spans
		h.idx = h.idx[:0]
		next := 0
		for _, p := range pending[svcStart[n]:svcStart[n+1]] {
			for next < len(spans) && m.Spans[spans[next]].StartNs <= p.t {
				h.push(int(spans[next]))
				next++
			}
			for len(h.idx) > 0 && m.Spans[h.idx[0]].EndNs < p.t {
				h.pop()
			}
			if len(h.idx) > 0 {
				attached[p.i] = int32(h.idx[0])
			}
		}
	}

	perSpan := make([]int, len(m.Spans))
	total := 0
	for _, j := range attached {
		if j >= 0 {
			perSpan[j]++
			total++
		}
	}
	lists := make([]int, total)
	off := 0
	for j, c := range perSpan {
		if c > 0 {
			m.Spans[j].Logs = lists[off : off : off+c]
			off += c
		}
	}
	for i := range m.Logs {
		l := &m.Logs[i]
		if j := attached[i]; j >= 0 {
			s := &m.Spans[j]
			if l.Attach != AttachSpanID {
				l.Attach = AttachTime
			}
			l.AttachedSpanID = s.SpanID
			l.Tier = tierName(s.Tier)
			s.Logs = append(s.Logs, i)
			if IsErrorSeverity(l.Severity) {
				s.Error = true
			}
			continue
		}
		l.Attach = AttachNone
		l.Tier = TierOther
		if n := logSvc[i]; n >= 0 {
			l.Tier = tierName(svcs[n].tier)
		}
	}
}

// tierName maps a span's tier to a reported one: spans no tier rule ran on
// (empty tier) count as other.
func tierName(t string) string {
	if t == "" {
		return TierOther
	}
	return t
}

// spanHeap is a binary max-heap of span indexes ordered by innermost: depth,
// then start time, then position (the later-sorted span wins).
type spanHeap struct {
	spans []SpanNode
	idx   []int
}

func (h *spanHeap) above(a, b int) bool {
	sa, sb := &h.spans[a], &h.spans[b]
	if sa.Depth != sb.Depth {
		return sa.Depth > sb.Depth
	}
	if sa.StartNs != sb.StartNs {
		return sa.StartNs > sb.StartNs
	}
	return a > b
}

func (h *spanHeap) push(i int) {
	h.idx = append(h.idx, i)
	c := len(h.idx) - 1
	for c > 0 {
		p := (c - 1) / 2
		if !h.above(h.idx[c], h.idx[p]) {
			break
		}
		h.idx[c], h.idx[p] = h.idx[p], h.idx[c]
		c = p
	}
}

func (h *spanHeap) pop() {
	n := len(h.idx) - 1
	h.idx[0] = h.idx[n]
	h.idx = h.idx[:n]
	p := 0
	for {
		l, r, top := 2*p+1, 2*p+2, p
		if l < n && h.above(h.idx[l], h.idx[top]) {
			top = l
		}
		if r < n && h.above(h.idx[r], h.idx[top]) {
			top = r
		}
		if top == p {
			return
		}
		h.idx[p], h.idx[top] = h.idx[top], h.idx[p]
		p = top
	}
}

// extent bounds the trace by its spans, or by its logs when it has none.
func extent(m *Model) (lo, hi int64) {
	if len(m.Spans) > 0 {
		for i, s := range m.Spans {
			if i == 0 || s.StartNs < lo {
				lo = s.StartNs
			}
			if i == 0 || s.EndNs > hi {
				hi = s.EndNs
			}
		}
		return lo, max(lo, hi)
	}
	if len(m.Logs) > 0 {
		return m.Logs[0].TimeNs, m.Logs[len(m.Logs)-1].TimeNs
	}
	return 0, 0
}

// interleave merges span starts and logs (both already in time order) into
// one event list; a span start sorts before logs of the same instant.
func interleave(m *Model) []Event {
	ev := make([]Event, 0, len(m.Spans)+len(m.Logs))
	i, j := 0, 0
	for i < len(m.Spans) || j < len(m.Logs) {
		if j >= len(m.Logs) || (i < len(m.Spans) && m.Spans[i].StartNs <= m.Logs[j].TimeNs) {
			ev = append(ev, Event{Kind: EventSpan, TimeNs: m.Spans[i].StartNs, Index: i})
			i++
			continue
		}
		ev = append(ev, Event{Kind: EventLog, TimeNs: m.Logs[j].TimeNs, Index: j})
		j++
	}
	return ev
}

// SpanIndex returns the index in m.Spans of the span with this ID, so that
// callers holding a span ID from a query or a link find its node without
// scanning.
func (m *Model) SpanIndex(spanID string) (int, bool) {
	if spanID == "" {
		return 0, false
	}
	if m.spanIndex == nil {
		// Never filled in here: a model may be read from several goroutines.
		for i := range m.Spans {
			if m.Spans[i].SpanID == spanID {
				return i, true
			}
		}
		return 0, false
	}
	i, ok := m.spanIndex[spanID]
	return i, ok
}

// SpanLogs returns the logs attached to one span, in time order (nil for an
// unknown span), for queryType logs with a spanId.
func (m *Model) SpanLogs(spanID string) []Log {
	i, ok := m.SpanIndex(spanID)
	if !ok {
		return nil
	}
	out := make([]Log, len(m.Spans[i].Logs))
	for k, li := range m.Spans[i].Logs {
		out[k] = m.Logs[li]
	}
	return out
}

// ForSpan returns a model holding only the logs attached to one span (the
// span itself kept for context), for queryType logs with a spanId; an
// unknown span gives a model without spans or logs.
func (m *Model) ForSpan(spanID string) *Model {
	out := &Model{TraceID: m.TraceID, StartNs: m.StartNs, EndNs: m.EndNs, TierStyles: m.TierStyles}
	if i, ok := m.SpanIndex(spanID); ok {
		s := m.Spans[i]
		out.Logs = m.SpanLogs(spanID)
		s.Logs = make([]int, len(out.Logs))
		for k := range s.Logs {
			s.Logs[k] = k
		}
		s.Depth = 0
		out.Spans = []SpanNode{s}
	}
	out.spanIndex = indexSpans(out.Spans)
	out.Events = interleave(out)
	Summarize(out)
	return out
}
