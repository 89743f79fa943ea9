package timeline

import (
	"cmp"
	"slices"
)

// TierOrder is the order tiers are reported in: the request's path through
// the reference architecture.
var TierOrder = []string{TierProxy, TierGo, TierRails, TierMySQL, TierRedis, TierOther}

// TierStat is the summary of one tier.
type TierStat struct {
	Tier     string   `json:"tier"`
	Services []string `json:"services"`
	Spans    int      `json:"spans"`
	// SelfNs sums the self time of the tier's spans.
	SelfNs int64 `json:"selfNs"`
	// Share is SelfNs over the trace's wall time (0–1).
	Share  float64 `json:"share"`
	Errors int     `json:"errors"`
	Logs   int     `json:"logs"`
}

// ServiceStat is the self time of one service.
type ServiceStat struct {
	Service string  `json:"service"`
	Tier    string  `json:"tier"`
	Spans   int     `json:"spans"`
	SelfNs  int64   `json:"selfNs"`
	Share   float64 `json:"share"`
}

// ErrorEvent is the earliest error of the trace.
type ErrorEvent struct {
	Kind     string `json:"kind"` // EventSpan or EventLog
	TimeNs   int64  `json:"timeNs"`
	OffsetNs int64  `json:"offsetNs"`
	Tier     string `json:"tier"`
	Service  string `json:"service"`
	SpanID   string `json:"spanId"`
	// Name is the span's operation name or the log's body.
	Name   string `json:"name"`
	Source string `json:"source"`
	// Index points into Model.Spans or Model.Logs, by Kind.
	Index int `json:"index"`
}

// SpanRef names one span.
type SpanRef struct {
	Index   int    `json:"index"`
	SpanID  string `json:"spanId"`
	Service string `json:"service"`
	Name    string `json:"name"`
	SelfNs  int64  `json:"selfNs"`
}

// Summary is where the time went and what failed first.
type Summary struct {
	// WallNs is the trace's extent, the denominator of every share.
	WallNs int64 `json:"wallNs"`
	// Tiers lists the tiers that have spans or logs, in TierOrder.
	Tiers    []TierStat    `json:"tiers"`
	Services []ServiceStat `json:"services"`
	// FirstError is nil when nothing failed.
	FirstError *ErrorEvent `json:"firstError,omitempty"`
	// Slowest is the span with the most self time (nil without spans).
	Slowest *SpanRef `json:"slowest,omitempty"`
}

// Summarize computes self times and the critical path (stored on the
// spans), per-tier and per-service totals, the first error and the slowest
// span. It is pure and linear in spans and logs apart from sorting children.
func Summarize(m *Model) *Summary {
	sum := &Summary{WallNs: m.EndNs - m.StartNs}
	if sum.WallNs < 0 {
		sum.WallNs = 0
	}
	children := childIndex(m)
	for i := range m.Spans {
		m.Spans[i].SelfNs = selfTime(m, i, children[i])
		m.Spans[i].Critical = false
	}
	markCriticalPath(m, children)

	tiers := map[string]*TierStat{}
	tierOf := func(t string) *TierStat {
		if t == "" {
			t = TierOther
		}
		ts, ok := tiers[t]
		if !ok {
			ts = &TierStat{Tier: t}
			tiers[t] = ts
		}
		return ts
	}
	services := map[string]*ServiceStat{}
	var serviceOrder []string
	for i := range m.Spans {
		s := &m.Spans[i]
		ts := tierOf(s.Tier)
		ts.Spans++
		ts.SelfNs += s.SelfNs
		if s.Error {
			ts.Errors++
		}
		if !slices.Contains(ts.Services, s.Service) {
			ts.Services = append(ts.Services, s.Service)
		}
		ss, ok := services[s.Service]
		if !ok {
			ss = &ServiceStat{Service: s.Service, Tier: s.Tier}
			services[s.Service] = ss
			serviceOrder = append(serviceOrder, s.Service)
		}
		ss.Spans++
		ss.SelfNs += s.SelfNs
		if sum.Slowest == nil || s.SelfNs > sum.Slowest.SelfNs {
			sum.Slowest = &SpanRef{Index: i, SpanID: s.SpanID, Service: s.Service, Name: s.Name, SelfNs: s.SelfNs}
		}
	}
	for i := range m.Logs {
		ts := tierOf(m.Logs[i].Tier)
		ts.Logs++
		if IsErrorSeverity(m.Logs[i].Severity) && m.Logs[i].AttachedSpanID == "" {
			ts.Errors++ // span-attached error logs already count through their span
		}
	}
	share := func(ns int64) float64 {
		if sum.WallNs == 0 {
			return 0
		}
		return float64(ns) / float64(sum.WallNs)
	}
	for _, t := range TierOrder {
		if ts, ok := tiers[t]; ok {
			ts.Share = share(ts.SelfNs)
			slices.Sort(ts.Services)
			sum.Tiers = append(sum.Tiers, *ts)
		}
	}
	for _, name := range serviceOrder {
		ss := services[name]
		ss.Share = share(ss.SelfNs)
		sum.Services = append(sum.Services, *ss)
	}
	slices.SortStableFunc(sum.Services, func(a, b ServiceStat) int { return cmp.Compare(b.SelfNs, a.SelfNs) })
	sum.FirstError = firstError(m)
	return sum
}

// childIndex lists each span's children (by index), in start order.
func childIndex(m *Model) [][]int {
	byID := make(map[string]int, len(m.Spans))
	for i := range m.Spans {
		byID[m.Spans[i].SpanID] = i
	}
	children := make([][]int, len(m.Spans))
	for i := range m.Spans {
		p, ok := byID[m.Spans[i].ParentSpanID]
		if ok && p != i && m.Spans[i].ParentSpanID != "" && m.Spans[p].Depth < m.Spans[i].Depth {
			children[p] = append(children[p], i) // m.Spans is in start order, so are the lists
		}
	}
	return children
}

// selfTime is the span's duration minus the union of its children's
// intervals clipped to the span: concurrent children count once, and a
// child that overhangs its parent (clock skew) is clipped, not subtracted
// twice.
func selfTime(m *Model, i int, kids []int) int64 {
	s := &m.Spans[i]
	dur := s.DurationNs()
	if len(kids) == 0 || dur == 0 {
		return dur
	}
	covered := int64(0)
	curStart, curEnd := int64(0), int64(0)
	open := false
	// kids are in start order, so one pass merges overlapping intervals.
	for _, k := range kids {
		c := &m.Spans[k]
		a, b := max(c.StartNs, s.StartNs), min(c.EndNs, s.EndNs)
		if b <= a {
			continue
		}
		switch {
		case !open:
			curStart, curEnd, open = a, b, true
		case a <= curEnd:
			curEnd = max(curEnd, b)
		default:
			covered += curEnd - curStart
			curStart, curEnd = a, b
		}
	}
	if open {
		covered += curEnd - curStart
	}
	return dur - covered
}

// markCriticalPath marks the chain of spans that determined the trace's
// end-to-end latency: from the root's end, repeatedly step into the child
// that finished last before the current point, then continue from that
// child's start (children's ends are clipped to the parent for clock skew).
func markCriticalPath(m *Model, children [][]int) {
	root := -1
	for i := range m.Spans {
		if m.Spans[i].Depth != 0 {
			continue
		}
		if root < 0 || m.Spans[i].DurationNs() > m.Spans[root].DurationNs() {
			root = i
		}
	}
	if root < 0 {
		return
	}
	type frame struct{ span int }
	stack := []frame{{root}}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		s := &m.Spans[f.span]
		if s.Critical {
			continue
		}
		s.Critical = true
		t := s.EndNs
		kids := children[f.span]
		used := make(map[int]bool)
		for {
			best := -1
			var bestEnd int64
			for _, k := range kids {
				if used[k] {
					continue
				}
				end := min(m.Spans[k].EndNs, s.EndNs)
				if end > t || m.Spans[k].StartNs >= t {
					continue
				}
				if best < 0 || end > bestEnd {
					best, bestEnd = k, end
				}
			}
			if best < 0 {
				break
			}
			used[best] = true
			stack = append(stack, frame{best})
			t = m.Spans[best].StartNs
		}
	}
}

// firstError finds the earliest error event: a span with error status (at
// its start) or a log with error or critical severity.
func firstError(m *Model) *ErrorEvent {
	var best *ErrorEvent
	consider := func(e ErrorEvent) {
		if best == nil || e.TimeNs < best.TimeNs {
			e.OffsetNs = e.TimeNs - m.StartNs
			best = &e
		}
	}
	for i := range m.Spans {
		s := &m.Spans[i]
		if s.StatusCode == StatusError {
			consider(ErrorEvent{Kind: EventSpan, TimeNs: s.StartNs, Tier: s.Tier, Service: s.Service, SpanID: s.SpanID, Name: s.Name, Source: SourceTempo, Index: i})
		}
	}
	for i := range m.Logs {
		l := &m.Logs[i]
		if IsErrorSeverity(l.Severity) {
			consider(ErrorEvent{Kind: EventLog, TimeNs: l.TimeNs, Tier: l.Tier, Service: l.Service, SpanID: l.AttachedSpanID, Name: l.Body, Source: l.SourceList(), Index: i})
		}
	}
	return best
}
