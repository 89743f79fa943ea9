package timeline

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
)

// Merge builds the merged model from a trace (nil or empty for a log-only
// result) and log records from any number of sources. logSets come in
// source order — Loki first, then Kafka topics in configuration order — and
// that order is the order of Log.Sources for a line found in several places.
//
// Logs are kept even when their TraceID differs from the trace's: they were
// found by the upstream's trace filter (for example the hex ID inside the
// text), and hiding them would lose evidence. Merge does not modify its inputs.
func Merge(tr *Trace, logSets ...[]LogRecord) *Model {
	m := &Model{}
	if tr != nil {
		m.TraceID = tr.TraceID
		m.Spans = buildSpanNodes(tr.Spans)
	}
	m.Logs = dedupLogs(logSets)
	attachLogs(m)
	m.StartNs, m.EndNs = extent(m)
	m.Events = interleave(m)
	m.Summary = Summarize(m)
	return m
}

// buildSpanNodes copies the spans, computes depths (orphans whose parent is
// missing are roots; a cycle in broken data is cut) and sorts them by start
// time, parents before children at equal times, then by span ID.
func buildSpanNodes(spans []Span) []SpanNode {
	nodes := make([]SpanNode, len(spans))
	byID := make(map[string]int, len(spans))
	for i := range spans {
		nodes[i].Span = spans[i]
		byID[spans[i].SpanID] = i
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
			if depth[j] == visiting { // cycle: treat the repeated span as a root
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
	slices.SortStableFunc(nodes, func(a, b SpanNode) int {
		if c := cmp.Compare(a.StartNs, b.StartNs); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Depth, b.Depth); c != 0 {
			return c
		}
		return strings.Compare(a.SpanID, b.SpanID)
	})
	return nodes
}

// dedupKey identifies the same line seen in several sources: its time to
// the millisecond (Kafka encodings and Loki round differently) and its
// normalised body.
type dedupKey struct {
	ms   int64
	body string
}

// dedupLogs flattens the sources into one time-ordered list, merging the
// same line found in several sources into one Log listing all of them.
func dedupLogs(logSets [][]LogRecord) []Log {
	total := 0
	for _, set := range logSets {
		total += len(set)
	}
	logs := make([]Log, 0, total)
	seen := make(map[dedupKey]int, total)
	for _, set := range logSets {
		for i := range set {
			r := &set[i]
			k := dedupKey{ms: floorDiv(r.TimeNs, 1e6), body: normalizeBody(r.Body)}
			if j, ok := seen[k]; ok && sameTrace(logs[j].TraceID, r.TraceID) {
				mergeInto(&logs[j], r)
				continue
			}
			seen[k] = len(logs)
			logs = append(logs, Log{LogRecord: *r, Sources: []string{r.Source}})
		}
	}
	slices.SortStableFunc(logs, func(a, b Log) int { return cmp.Compare(a.TimeNs, b.TimeNs) })
	return logs
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func sameTrace(a, b string) bool { return a == "" || b == "" || a == b }

// normalizeBody makes the forms one line takes in different pipelines
// compare equal: kafkaexporter's raw encoding JSON-quotes string bodies,
// shippers differ in trailing newlines and runs of spaces.
func normalizeBody(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		var unq string
		if json.Unmarshal([]byte(s), &unq) == nil {
			s = strings.TrimSpace(unq)
		}
	}
	if needsCollapse(s) {
		s = strings.Join(strings.Fields(s), " ")
	}
	return s
}

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
		}
	}
	return false
}

// mergeInto adds a duplicate's source and fills the fields the first copy
// lacked, keeping the richest view of the line.
func mergeInto(dst *Log, r *LogRecord) {
	if !slices.Contains(dst.Sources, r.Source) {
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
		dst.Severity = r.Severity
	}
	if len(r.Labels) > 0 {
		merged := make(map[string]string, len(dst.Labels)+len(r.Labels))
		for k, v := range r.Labels {
			merged[k] = v
		}
		for k, v := range dst.Labels {
			merged[k] = v // the first source's value wins
		}
		dst.Labels = merged
	}
}

// attachLogs ties each log to a span: by span ID when the span is in the
// trace, otherwise to the innermost span of the same service whose
// [start, end] holds the log's time (ties: the latest-starting), otherwise
// the log stays trace-level. It also sets each log's tier and each span's
// log list and error flag.
func attachLogs(m *Model) {
	byID := make(map[string]int, len(m.Spans))
	serviceTier := map[string]string{}
	byService := map[string][]int{} // span indexes in start order (m.Spans is sorted)
	for i := range m.Spans {
		s := &m.Spans[i]
		byID[s.SpanID] = i
		if _, ok := serviceTier[s.Service]; !ok {
			serviceTier[s.Service] = s.Tier
		}
		byService[s.Service] = append(byService[s.Service], i)
	}
	attached := make([]int, len(m.Logs))
	pending := map[string][]int{} // logs awaiting time attachment, by service, in time order
	for i := range m.Logs {
		l := &m.Logs[i]
		attached[i] = -1
		if j, ok := byID[l.SpanID]; ok && l.SpanID != "" {
			attached[i] = j
			l.Attach = AttachSpanID
			continue
		}
		if _, ok := byService[l.Service]; ok {
			pending[l.Service] = append(pending[l.Service], i)
		}
	}
	// Sweep each service's spans and logs in time order, keeping the spans
	// that have started; among those still open, pick the innermost.
	for svc, logIdx := range pending {
		spans := byService[svc]
		var active []int
		next := 0
		for _, li := range logIdx {
			t := m.Logs[li].TimeNs
			for next < len(spans) && m.Spans[spans[next]].StartNs <= t {
				active = append(active, spans[next])
				next++
			}
			best := -1
			keep := active[:0]
			for _, si := range active {
				s := &m.Spans[si]
				if s.EndNs < t {
					continue // closed for good: later logs are later still
				}
				keep = append(keep, si)
				if best < 0 || s.Depth > m.Spans[best].Depth ||
					(s.Depth == m.Spans[best].Depth && s.StartNs >= m.Spans[best].StartNs) {
					best = si
				}
			}
			active = keep
			if best >= 0 {
				attached[li] = best
				m.Logs[li].Attach = AttachTime
			}
		}
	}
	for i := range m.Logs {
		l := &m.Logs[i]
		if j := attached[i]; j >= 0 {
			s := &m.Spans[j]
			l.AttachedSpanID = s.SpanID
			l.Tier = s.Tier
			s.Logs = append(s.Logs, i)
			if IsErrorSeverity(l.Severity) {
				s.Error = true
			}
			continue
		}
		l.Attach = AttachNone
		if tier, ok := serviceTier[l.Service]; ok && tier != "" {
			l.Tier = tier
		} else {
			l.Tier = TierOther
		}
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
		return lo, hi
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

// ForSpan returns a model holding only the logs attached to one span (the
// span itself kept for context), for queryType logs with a spanId.
func (m *Model) ForSpan(spanID string) *Model {
	out := &Model{TraceID: m.TraceID, StartNs: m.StartNs, EndNs: m.EndNs}
	for i := range m.Spans {
		if m.Spans[i].SpanID != spanID {
			continue
		}
		s := m.Spans[i]
		idx := make([]int, len(s.Logs))
		for k, li := range s.Logs {
			out.Logs = append(out.Logs, m.Logs[li])
			idx[k] = k
		}
		s.Logs = idx
		out.Spans = []SpanNode{s}
		break
	}
	out.Events = interleave(out)
	out.Summary = Summarize(out)
	return out
}
