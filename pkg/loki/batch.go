package loki

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// Bounds of one batch expression (BuildBatchQueries). Every chunk of a
// group's IDs makes Loki scan the group's streams again, so fewer chunks
// cost it less; these keep one expression within what Loki and the proxies
// in front of it accept, and one request's work per line bounded.
const (
	// maxBatchIDs bounds the IDs of one expression by the work a scanned
	// line costs, which grows with them: Loki turns a line filter's
	// alternation of literals into a substring search per ID where it can,
	// and runs Go's regexp where it cannot (two IDs that differ only in
	// their last digit become a character class); auto's template calls
	// contains once per ID. At 50 IDs a 200-byte line costs 60–80 µs
	// through the template (one ID: 3.5–5 µs) and 0.4–0.5 ms in Go's regexp
	// (ten IDs: 45 µs; BenchmarkBatchFilterPerLine on a shared 2-core
	// machine). Fifty keeps one request's work per line within that of
	// about sixteen trace queries, and the largest search
	// (models.MaxSearchLimit traces) at two or three expressions a group.
	maxBatchIDs = 50
	// maxBatchQueryBytes bounds the length of one expression: the query is
	// a URL parameter of a GET, and gateways in front of Loki refuse long
	// request lines (nginx, the gateway of Loki's Helm chart, answers 414
	// past its 8 KiB large_client_header_buffers). Hex digits need no URL
	// escaping, so the longest request line of these filters is 4.6 KiB
	// (auto, which names each ID twice and reaches the bound at about 45
	// IDs; TestBatchQueryURLLength).
	maxBatchQueryBytes = 4 << 10
)

// BuildBatchQueries is BuildQueries for many IDs (exported so tests and
// tooling can show the LogQL): the expressions that together find the lines
// of every trace of traceIDs under selector. One ID gives BuildQueries'
// expression; several, the same filter matching any of them:
//
//   - structured: `<selector> | trace_id=~"<id1>|<id2>|…"`;
//   - line: `<selector> |~ "<id1>|<id2>|…"`;
//   - auto: `<selector> | label_format log_line_contains_trace_id=`{{ or
//     (contains "<id1>" __line__) (contains "<id2>" __line__) … }}` |
//     log_line_contains_trace_id="true" or trace_id=~"<id1>|<id2>|…"`.
//
// The IDs are chunked: at most maxBatchIDs per expression and
// maxBatchQueryBytes of expression (an expression of one ID is never cut),
// in chunks of equal size (give or take one), in the order given; repeated
// IDs are asked once.
// Every ID is normalised (models.NormalizeTraceID) because it is embedded
// in LogQL: one that is not a trace ID returns nil, as do an unknown filter
// and no IDs.
func BuildBatchQueries(selector, filter string, traceIDs []string) []string {
	if !knownFilter(filter) {
		return nil
	}
	ids := make([]string, 0, len(traceIDs))
	seen := make(map[string]bool, len(traceIDs))
	for _, raw := range traceIDs {
		id, err := models.NormalizeTraceID(raw)
		if err != nil {
			return nil
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	sel := strings.TrimSpace(selector)
	if sel == "" {
		sel = models.DefaultLokiSelector
	}
	// Normalised IDs have one length, so every expression of n IDs is as
	// long as the one of the first n.
	per := min(len(ids), maxBatchIDs)
	for per > 1 && len(filterExpr(sel, filter, ids[:per])) > maxBatchQueryBytes {
		per--
	}
	chunks := (len(ids) + per - 1) / per
	size := (len(ids) + chunks - 1) / chunks
	out := make([]string, 0, chunks)
	for chunk := range slices.Chunk(ids, size) {
		out = append(out, filterExpr(sel, filter, chunk))
	}
	return out
}

// TracesResult is what QueryTraces found.
type TracesResult struct {
	// Result: Records holds every matched line once, in time order;
	// Truncated, Pages and Notices are as for Query, for the whole batch
	// (loki.maxTotalLines bounds the batch, not each trace).
	Result
	// ByTrace maps a trace ID to its lines in time order: for each ID
	// exactly the lines of Records that BuildQueries' filter of that ID
	// matches, inside the groups that asked for it. A line naming two
	// requested IDs is under both. IDs without lines are absent.
	ByTrace map[string][]timeline.LogRecord
	// Queries counts the passes started, distinct LogQL expressions ×
	// groups (for tests and benchmarks).
	Queries int
}

// QueryTraces finds the lines of every trace of groups: per group one LogQL
// filter matching any of its IDs over [g.StartNs, g.EndNs), chunked by ID
// count and expression length (BuildBatchQueries). A search fetches the
// logs of all the traces it found this way, never once per trace
// (docs/DESIGN.md, "Search"); the caller keeps each trace's lines inside
// its own window.
//
// Each pass (a group's expression) is read as Query reads its one: pages,
// lines sharing a timestamp, parallel slots. The passes are read with up to
// loki.parallelQueries requests at once and their lines joined in time
// order of the groups, so loki.maxTotalLines keeps the earliest lines of
// the batch, as Query keeps the earliest of a trace. Lines are then given
// to the traces they belong to by the rule of the trace filter: structured,
// the line's trace_id label (structured metadata) is the ID; line, its text
// contains the ID (case-sensitive, as |= is); auto, either.
//
// Every ID is validated (models.NormalizeTraceID) before any request, and a
// group must end after it starts; a group without IDs is skipped. After a
// failed request the lines read before it are returned with the error.
func (c *Client) QueryTraces(ctx context.Context, groups []timeline.WindowGroup) (*TracesResult, error) {
	sorted := slices.Clone(groups)
	slices.SortStableFunc(sorted, func(a, b timeline.WindowGroup) int {
		return cmp.Or(cmp.Compare(a.StartNs, b.StartNs), cmp.Compare(a.EndNs, b.EndNs))
	})
	asked := make(map[string][]timeRange)
	var passes []pass
	for _, g := range sorted {
		if len(g.TraceIDs) == 0 {
			continue
		}
		if g.EndNs <= g.StartNs {
			return nil, fmt.Errorf("%w: a group ends at %d, not after its start %d", ErrInvalidTimeRange, g.EndNs, g.StartNs)
		}
		ids := make([]string, len(g.TraceIDs))
		for i, raw := range g.TraceIDs {
			id, err := models.NormalizeTraceID(raw)
			if err != nil {
				return nil, err
			}
			ids[i] = id
			asked[id] = append(asked[id], timeRange{g.StartNs, g.EndNs})
		}
		queries := BuildBatchQueries(c.selector, c.filter, ids)
		if len(queries) == 0 {
			return nil, fmt.Errorf("%w: loki.traceFilter %q", models.ErrInvalidSettings, clip(c.filter, 40))
		}
		for _, q := range queries {
			passes = append(passes, pass{q, g.StartNs, g.EndNs})
		}
	}
	out := &TracesResult{ByTrace: map[string][]timeline.LogRecord{}}
	if len(passes) == 0 {
		return out, nil
	}
	res, started, err := c.run(ctx, passes)
	out.Result, out.Queries = *res, started
	out.ByTrace = byTrace(c.filter, res.Records, asked)
	return out, err
}

// timeRange is [start, end) in Unix ns.
type timeRange struct{ start, end int64 }

// byTrace gives each record to the asked traces whose one-trace filter
// (BuildQueries of filter) matches it, when the record's time is inside a
// group that asked for that trace: what Query of that trace over those
// groups returns. The candidates come from the record itself (its trace_id
// label, the IDs its text holds), so the cost is one scan of each body
// whatever the number of traces.
func byTrace(filter string, records []timeline.LogRecord, asked map[string][]timeRange) map[string][]timeline.LogRecord {
	out := make(map[string][]timeline.LogRecord, len(asked))
	var (
		r     *timeline.LogRecord
		given []string // the traces r was given to
	)
	give := func(id string) {
		ranges, ok := asked[id]
		if !ok || slices.Contains(given, id) {
			return
		}
		for _, tr := range ranges {
			if r.TimeNs >= tr.start && r.TimeNs < tr.end {
				given = append(given, id)
				out[id] = append(out[id], *r)
				return
			}
		}
	}
	for i := range records {
		r, given = &records[i], given[:0]
		if filter != models.TraceFilterLine {
			// `trace_id="<id>"`: the label's value, exactly.
			if v, ok := r.Labels.Lookup("trace_id"); ok {
				give(v)
			}
		}
		if filter != models.TraceFilterStructured {
			eachHexID(r.Body, give)
		}
	}
	return out
}

// eachHexID calls fn with every run of 32 lower-case hex digits in s,
// overlapping ones included: a trace ID (normalised: 32 lower-case hex
// digits) is among them exactly when s contains it, which is what
// `|= "<id>"` and auto's contains match.
func eachHexID(s string, fn func(string)) {
	run := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' || c >= 'a' && c <= 'f' {
			run++
			if run >= 32 {
				fn(s[i-31 : i+1])
			}
			continue
		}
		run = 0
	}
}
