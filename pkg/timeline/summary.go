package timeline

import (
	"cmp"
	"slices"

	"github.com/traceweave/traceweave/pkg/models"
)

// defaultTierStyles order the summary of a model built without
// Trace.TierStyles: the default rules' order, the reference architecture's
// request path (proxy, go, rails, mysql, redis, then other).
var defaultTierStyles = models.TierStyles(models.DefaultTierRules())

// TierStat is the summary of one tier: how much of the trace's time it
// spent itself and how much went wrong there, the answer to "which tier is
// slow?".
type TierStat struct {
	Tier string `json:"tier"`
	// Color is the tier's configured colour (models.TierRule.Color), "" when unset.
	Color string `json:"color,omitempty"`
	// Services lists the services with spans or logs in the tier, sorted.
	Services []string `json:"services"`
	Spans    int      `json:"spans"`
	// SelfNs sums the self time of the tier's spans.
	SelfNs int64 `json:"selfNs"`
	// Share is SelfNs over Summary.WallNs. Shares may add up to more than 1
	// when work runs outside its parent's interval (an asynchronous consumer,
	// clock skew), because such time is not inside any parent to subtract from.
	Share float64 `json:"share"`
	// Errors counts failing spans (status error, or an error log inside)
	// plus error/critical logs attached to no span.
	Errors int `json:"errors"`
	// Logs counts the log lines of the tier (Log.Tier).
	Logs int `json:"logs"`
}

// ServiceStat is the same summary per service, for a finer answer than the
// tier (two Go services share the go tier).
type ServiceStat struct {
	Service string `json:"service"`
	// Tier is the tier of the service's shallowest span.
	Tier   string  `json:"tier"`
	Spans  int     `json:"spans"`
	SelfNs int64   `json:"selfNs"`
	Share  float64 `json:"share"`
	Errors int     `json:"errors"`
	Logs   int     `json:"logs"`
}

// ErrorEvent is the earliest error of the trace, the answer to "what broke
// first?".
type ErrorEvent struct {
	// Kind is EventSpan or EventLog.
	Kind string `json:"kind"`
	// TimeNs is when the error happened: a log's time; for a span, its first
	// "exception" event, else its end — the moment its failure was known.
	// A span's start would name the root first whenever an error propagates
	// up, hiding the span that actually failed.
	TimeNs int64 `json:"timeNs"`
	// OffsetNs is TimeNs minus the trace's start.
	OffsetNs int64  `json:"offsetNs"`
	Tier     string `json:"tier"`
	Service  string `json:"service"`
	// SpanID is the failing span, or the span the log is attached to ("" when trace-level).
	SpanID string `json:"spanId"`
	// Name is the span's operation name or the log's body.
	Name string `json:"name"`
	// Source is "tempo" for a span, the log's source list for a log.
	Source string `json:"source"`
	// Index points into Model.Spans or Model.Logs, by Kind.
	Index int `json:"index"`
}

// SpanRef names one span of the model, for pointers such as the slowest span.
type SpanRef struct {
	// Index points into Model.Spans.
	Index      int    `json:"index"`
	SpanID     string `json:"spanId"`
	Service    string `json:"service"`
	Tier       string `json:"tier"`
	Name       string `json:"name"`
	SelfNs     int64  `json:"selfNs"`
	DurationNs int64  `json:"durationNs"`
}

// Summary is the incident summary of a merged trace: where the time went
// and what failed first.
type Summary struct {
	// WallNs is the denominator of every share: the trace's extent, from
	// the earliest span start to the latest span end (of the logs when there
	// are no spans). For a single well-formed tree it is the root span's
	// duration; it is wider when a consumer runs on after the request, a
	// child overhangs its parent (clock skew) or the root span is missing,
	// and then still the time the user waited for the whole trace to finish.
	WallNs int64 `json:"wallNs"`
	// Tiers lists the tiers that have spans or logs, in summary order (see
	// sortTiers); a tier absent from the trace has nothing to report and gets
	// no row.
	Tiers []TierStat `json:"tiers"`
	// Services lists every service by self time, most first (ties: name).
	Services []ServiceStat `json:"services"`
	// FirstError is nil when nothing failed.
	FirstError *ErrorEvent `json:"firstError,omitempty"`
	// Slowest is the span with the most self time (ties: the earliest), nil without spans.
	Slowest *SpanRef `json:"slowest,omitempty"`
}

// Summarize computes span self times and the critical path (stored on
// m.Spans as SelfNs and Critical), per-tier and per-service totals, the
// first error and the slowest span; it stores the result in m.Summary and
// returns it. It works on any model Merge built (Merge calls it) and can be
// called again after the model changed. It is linear in spans and logs
// apart from sorting each span's children.
func Summarize(m *Model) *Summary {
	parent, children := spanTree(m)
	sum := &Summary{WallNs: max(0, m.EndNs-m.StartNs)}
	for i := range m.Spans {
		m.Spans[i].SelfNs = selfTime(m, i, children[i])
		m.Spans[i].Critical = false
	}
	markCriticalPath(m, parent, children)

	tiers := map[string]*TierStat{}
	firstNs := map[string]int64{}
	// tierStat is called with a tier's earliest span first (spans are in
	// start order) and with its earliest log first (logs are in time order),
	// so keeping the minimum of what it sees gives the tier's first appearance.
	tierStat := func(t string, at int64) *TierStat {
		t = tierName(t)
		ts, ok := tiers[t]
		if !ok {
			ts = &TierStat{Tier: t}
			tiers[t] = ts
			firstNs[t] = at
		} else if at < firstNs[t] {
			firstNs[t] = at
		}
		return ts
	}
	services := map[string]*ServiceStat{}
	serviceDepth := map[string]int{}
	serviceStat := func(name string) *ServiceStat {
		ss, ok := services[name]
		if !ok {
			ss = &ServiceStat{Service: name, Tier: TierOther}
			services[name] = ss
		}
		return ss
	}
	addService := func(ts *TierStat, name string) {
		if name != "" && !slices.Contains(ts.Services, name) {
			ts.Services = append(ts.Services, name)
		}
	}
	for i := range m.Spans {
		s := &m.Spans[i]
		ts := tierStat(s.Tier, s.StartNs)
		ts.Spans++
		ts.SelfNs += s.SelfNs
		addService(ts, s.Service)
		ss := serviceStat(s.Service)
		if d, ok := serviceDepth[s.Service]; !ok || s.Depth < d {
			serviceDepth[s.Service] = s.Depth
			ss.Tier = tierName(s.Tier)
		}
		ss.Spans++
		ss.SelfNs += s.SelfNs
		if s.Error {
			ts.Errors++
			ss.Errors++
		}
		if sum.Slowest == nil || s.SelfNs > sum.Slowest.SelfNs {
			sum.Slowest = &SpanRef{Index: i, SpanID: s.SpanID, Service: s.Service, Tier: tierName(s.Tier),
				Name: s.Name, SelfNs: s.SelfNs, DurationNs: s.DurationNs()}
		}
	}
	// Lines come in runs of one service (a span's logs): the stats of the
	// previous line's tier and service are reused rather than looked up
	// again, which was most of Summarize's time at 100k lines.
	var (
		prevTier, prevService string
		ts                    *TierStat
		ss                    *ServiceStat
	)
	for i := range m.Logs {
		l := &m.Logs[i]
		if ts == nil || l.Tier != prevTier || l.Service != prevService {
			prevTier, prevService = l.Tier, l.Service
			ts, ss = tierStat(l.Tier, l.TimeNs), serviceStat(l.Service)
			addService(ts, l.Service)
		}
		ts.Logs++
		ss.Logs++
		if IsErrorSeverity(l.Severity) && l.AttachedSpanID == "" {
			ts.Errors++ // an attached error log already counts through its span
			ss.Errors++
		}
	}
	share := func(ns int64) float64 {
		if sum.WallNs <= 0 {
			return 0
		}
		return float64(ns) / float64(sum.WallNs)
	}
	styles := m.TierStyles
	if styles == nil {
		styles = defaultTierStyles
	}
	for _, ts := range tiers {
		ts.Share = share(ts.SelfNs)
		slices.Sort(ts.Services)
		sum.Tiers = append(sum.Tiers, *ts)
	}
	sortTiers(sum.Tiers, styles, firstNs)
	for _, ss := range services {
		ss.Share = share(ss.SelfNs)
		sum.Services = append(sum.Services, *ss)
	}
	slices.SortFunc(sum.Services, func(a, b ServiceStat) int {
		if c := cmp.Compare(b.SelfNs, a.SelfNs); c != 0 {
			return c
		}
		return cmp.Compare(a.Service, b.Service)
	})
	sum.FirstError = firstError(m)
	m.Summary = sum
	return sum
}

// sortTiers puts the summary's rows in the order a reader follows the
// request: tiers with a configured order first, lowest first; then the
// tiers without one by their first appearance (their earliest span start or
// log line), with TierOther, which no rule named, after them unless it was
// given an order. Remaining ties go by first appearance, then by name. Each
// row also takes its tier's configured colour.
func sortTiers(rows []TierStat, styles []models.TierStyle, firstNs map[string]int64) {
	byTier := make(map[string]*models.TierStyle, len(styles))
	for i := range styles {
		byTier[styles[i].Tier] = &styles[i]
	}
	order := func(t string) *int {
		if st := byTier[t]; st != nil {
			return st.Order
		}
		return nil
	}
	for i := range rows {
		if st := byTier[rows[i].Tier]; st != nil {
			rows[i].Color = st.Color
		}
	}
	slices.SortFunc(rows, func(a, b TierStat) int {
		oa, ob := order(a.Tier), order(b.Tier)
		switch {
		case oa != nil && ob != nil:
			if c := cmp.Compare(*oa, *ob); c != 0 {
				return c
			}
		case oa != nil:
			return -1
		case ob != nil:
			return 1
		default:
			if ao, bo := a.Tier == TierOther, b.Tier == TierOther; ao != bo {
				if ao {
					return 1
				}
				return -1
			}
		}
		if c := cmp.Compare(firstNs[a.Tier], firstNs[b.Tier]); c != 0 {
			return c
		}
		return cmp.Compare(a.Tier, b.Tier)
	})
}

// spanTree returns each span's parent index (-1 for roots) and children
// (in start order, as m.Spans is sorted). A parent link counts only when
// the depths agree (parent depth + 1), which is how Merge records the
// links it kept: orphans and spans where a cycle was cut are roots.
func spanTree(m *Model) (parent []int, children [][]int) {
	byID := m.spanIndex
	if byID == nil {
		byID = indexSpans(m.Spans)
	}
	parent = make([]int, len(m.Spans))
	children = make([][]int, len(m.Spans))
	for i := range m.Spans {
		parent[i] = -1
		s := &m.Spans[i]
		if s.ParentSpanID == "" || s.Depth == 0 {
			continue
		}
		if p, ok := byID[s.ParentSpanID]; ok && p != i && m.Spans[p].Depth+1 == s.Depth {
			parent[i] = p
			children[p] = append(children[p], i)
		}
	}
	return parent, children
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
	// kids are in start order, and clipping keeps that order, so one pass
	// merges overlapping intervals.
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
	return max(0, dur-covered)
}

// markCriticalPath marks the spans that determined the trace's latency.
// From a span's end, it steps into the child that finished last before the
// current point (children's ends clipped to the parent for clock skew),
// moves the point to that child's start, and repeats; each chosen child is
// walked the same way. Children overlapping a chosen one ran in parallel
// and are off the path. The walk starts at the root that ends last (ties:
// the longest); spans entirely outside their parent (an asynchronous
// consumer) are off the path too.
func markCriticalPath(m *Model, parent []int, children [][]int) {
	root := -1
	for i := range m.Spans {
		if parent[i] >= 0 {
			continue
		}
		if root < 0 || m.Spans[i].EndNs > m.Spans[root].EndNs ||
			(m.Spans[i].EndNs == m.Spans[root].EndNs && m.Spans[i].StartNs < m.Spans[root].StartNs) {
			root = i
		}
	}
	if root < 0 {
		return
	}
	stack := []int{root}
	var byEnd []int
	for len(stack) > 0 {
		si := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		s := &m.Spans[si]
		s.Critical = true
		clippedEnd := func(k int) int64 { return min(m.Spans[k].EndNs, s.EndNs) }
		byEnd = append(byEnd[:0], children[si]...)
		// Latest clipped end first; ties: the later start (the shorter,
		// tighter child), then position, for a deterministic path.
		slices.SortFunc(byEnd, func(a, b int) int {
			if c := cmp.Compare(clippedEnd(b), clippedEnd(a)); c != 0 {
				return c
			}
			if c := cmp.Compare(m.Spans[b].StartNs, m.Spans[a].StartNs); c != 0 {
				return c
			}
			return cmp.Compare(b, a)
		})
		t := s.EndNs
		for _, k := range byEnd {
			c := &m.Spans[k]
			if c.StartNs > s.EndNs || c.EndNs < s.StartNs {
				continue // wholly outside the parent: not on its path
			}
			// Sorted by end, the first child ending by t is the last to
			// finish before t; a child skipped here ends after t and t
			// only moves earlier, so it stays off the path.
			if clippedEnd(k) > t {
				continue
			}
			stack = append(stack, k)
			t = max(c.StartNs, s.StartNs)
		}
	}
}

// firstError finds the earliest error: a span with error status (at its
// failure time, see ErrorEvent.TimeNs) or a log with error or critical
// severity. Ties: spans before logs (the failing call before the line
// reporting it), deeper spans first, then model order.
func firstError(m *Model) *ErrorEvent {
	var best *ErrorEvent
	bestDepth := 0
	for i := range m.Spans {
		s := &m.Spans[i]
		if s.StatusCode != StatusError {
			continue
		}
		t := spanErrorTime(s)
		if best == nil || t < best.TimeNs || (t == best.TimeNs && s.Depth > bestDepth) {
			best = &ErrorEvent{Kind: EventSpan, TimeNs: t, Tier: tierName(s.Tier), Service: s.Service,
				SpanID: s.SpanID, Name: s.Name, Source: SourceTempo, Index: i}
			bestDepth = s.Depth
		}
	}
	for i := range m.Logs {
		l := &m.Logs[i]
		if !IsErrorSeverity(l.Severity) {
			continue
		}
		if best == nil || l.TimeNs < best.TimeNs {
			best = &ErrorEvent{Kind: EventLog, TimeNs: l.TimeNs, Tier: tierName(l.Tier), Service: l.Service,
				SpanID: l.AttachedSpanID, Name: l.Body, Source: l.SourceList(), Index: i}
		}
		break // logs are in time order: only the first error log can win
	}
	if best != nil {
		best.OffsetNs = best.TimeNs - m.StartNs
	}
	return best
}

// spanErrorTime is when a failing span's failure was known: its first
// exception event inside the span, else its end.
func spanErrorTime(s *SpanNode) int64 {
	t := max(s.EndNs, s.StartNs)
	for _, e := range s.Events {
		if e.Name == "exception" && e.TimeNs >= s.StartNs && e.TimeNs < t {
			t = e.TimeNs
		}
	}
	return t
}
