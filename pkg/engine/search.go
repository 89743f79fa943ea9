package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/traceweave/traceweave/internal/spans"
	"github.com/traceweave/traceweave/pkg/kafka"
	"github.com/traceweave/traceweave/pkg/loki"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/tempo"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// traceFetchParallel bounds the found traces fetched by ID at once: each is
// one Tempo request, and a search of search.limit (20) traces must not turn
// into 20 simultaneous requests on the Tempo a dashboard shares with its
// other panels. Four keeps the fetches inside the logs' own round trips in
// BenchmarkSearch (BENCHMARKS.md).
const traceFetchParallel = 4

// SearchRequest is one search query (docs/DESIGN.md, "Search").
type SearchRequest struct {
	// TraceQL is validated by models.ParseQuery (non-empty, bounded).
	TraceQL string
	// Limit is the number of traces wanted; 0 means search.limit.
	Limit int
	// Sources are the log sources to read (empty: every configured one);
	// Tempo is always asked, a search is a Tempo search.
	Sources []string
	// From and To are the panel's time range, the range searched.
	From, To time.Time
}

// SearchOutcome is the result of Search.
type SearchOutcome struct {
	// Traces are the traces found, in Tempo's order.
	Traces []timeline.FoundTrace
	// LogSources are the log sources asked ("loki", "kafka:<topic>"), in
	// the merge's source order: the search frame has a column per source.
	LogSources []string
	Statuses   []SourceStatus
	Notices    []Notice
}

// Errors of a search that cannot start: the plugin answers them as bad requests.
var (
	// ErrSearchNeedsTempo means a search was asked of a datasource without Tempo.
	ErrSearchNeedsTempo = errors.New("a search needs Tempo: set tempo.url on the datasource")
	// ErrSearchNeedsRange means a search came without a time range to search.
	ErrSearchNeedsRange = errors.New("a search needs a time range")
)

// Search finds traces with a TraceQL query and fetches the logs of all of
// them together: Loki and Kafka read the found traces' windows once, joined
// into few passes (timeline.GroupWindows), while the traces are fetched by
// ID for their spans; each trace is then merged with its own logs inside
// its own window, as a trace query would merge it (docs/DESIGN.md,
// "Search").
//
// It fails only when Tempo's search fails (nothing to show without it);
// every later failure is a notice and the rows stay.
func (e *Engine) Search(ctx context.Context, req SearchRequest) (*SearchOutcome, error) {
	ctx = spans.WithRedactor(ctx, e.redact)
	ctx, span := spans.Start(ctx, "traceweave.search", spans.Sources.StringSlice(req.Sources))
	defer span.End()
	out, err := e.search(ctx, req)
	if out != nil {
		e.scrub(out.Notices, out.Statuses)
	}
	spans.Fail(ctx, span, err)
	return out, e.redact.Error(err)
}

func (e *Engine) search(ctx context.Context, req SearchRequest) (*SearchOutcome, error) {
	if e.tempo == nil {
		return nil, ErrSearchNeedsTempo
	}
	if !validWindow(req.From, req.To) {
		return nil, fmt.Errorf("%w: from %v to %v", ErrSearchNeedsRange, req.From, req.To)
	}
	limit := cmp.Or(req.Limit, e.cfg.Search.Limit)
	acc := &Outcome{} // collects statuses and notices, as Run's do
	for _, s := range req.Sources {
		if s != models.SourceTempo && !e.Configured(s) {
			acc.Notices = append(acc.Notices, Notice{NoticeInfo, fmt.Sprintf("%s is not configured on this datasource; skipped", s)})
		}
	}
	want := func(s string) bool {
		return e.Configured(s) && (len(req.Sources) == 0 || slices.Contains(req.Sources, s))
	}

	// 1. Tempo's search: the traces, their starts and durations.
	tctx, tspan := spans.Start(ctx, "traceweave.tempo.search")
	found, err := e.tempo.Search(tctx, tempo.SearchRequest{Query: req.TraceQL, Start: req.From, End: req.To, Limit: limit})
	spans.Fail(tctx, tspan, err)
	tspan.End()
	if err != nil {
		return nil, fmt.Errorf("Tempo search failed: %w", err)
	}
	if found.More {
		acc.Notices = append(acc.Notices, Notice{NoticeWarning, fmt.Sprintf(
			"search: showing the first %d traces; Tempo found more (raise the query's limit or search.limit, at most %d, or narrow the TraceQL)", limit, models.MaxSearchLimit)})
	}
	if found.Dropped > 0 {
		acc.Notices = append(acc.Notices, Notice{NoticeWarning, fmt.Sprintf(
			"search: %d trace IDs in Tempo's answer are not hex trace IDs (e.g. %q) and were skipped", found.Dropped, found.DroppedExample)})
	}
	out := &SearchOutcome{Traces: make([]timeline.FoundTrace, len(found.Hits))}
	if want(models.SourceLoki) {
		out.LogSources = append(out.LogSources, models.SourceLoki)
	}
	if want(models.SourceKafka) {
		for _, t := range e.cfg.Kafka.Topics {
			out.LogSources = append(out.LogSources, timeline.KafkaSource(t.Name))
		}
	}
	if len(found.Hits) == 0 {
		out.Notices, out.Statuses = acc.Notices, acc.Statuses
		return out, nil
	}

	// 2. The logs of every trace at once, over the search answer's windows
	// (its duration is in whole ms: one more covers the rounding), while
	// the traces are fetched by ID.
	windows := make([]timeline.TraceWindow, len(found.Hits))
	for i, h := range found.Hits {
		from, to := e.window(h.StartNs, h.StartNs+h.DurationNs+int64(time.Millisecond))
		windows[i] = timeline.TraceWindow{TraceID: h.TraceID, StartNs: from.UnixNano(), EndNs: to.UnixNano()}
	}
	groups := timeline.GroupWindows(windows, e.joinGapNs())
	var wg sync.WaitGroup
	var lokiRes *loki.TracesResult
	var lokiErr error
	var kafkaRes *kafka.TracesResult
	if want(models.SourceLoki) {
		wg.Go(func() { lokiRes, lokiErr = e.loki.QueryTraces(ctx, groups) })
	}
	if want(models.SourceKafka) {
		wg.Go(func() {
			e.readKafka(ctx, func(kctx context.Context) *kafka.Result {
				kafkaRes = e.kafka.ReadTraces(kctx, groups)
				return &kafkaRes.Result
			})
		})
	}
	traces, traceErrs, traceNotes := e.fetchFound(ctx, found.Hits)
	wg.Wait()

	var lokiByTrace, kafkaByTrace map[string][]timeline.LogRecord
	if want(models.SourceLoki) {
		var res *loki.Result
		if lokiRes != nil {
			res, lokiByTrace = &lokiRes.Result, lokiRes.ByTrace
		}
		e.lokiOutcome(acc, res, lokiErr)
	}
	if kafkaRes != nil {
		kafkaOutcome(acc, &kafkaRes.Result)
		kafkaByTrace = kafkaRes.ByTrace
	}
	failedFetches := 0
	for i, h := range found.Hits {
		acc.Notices = append(acc.Notices, traceNotes[i]...)
		if err := traceErrs[i]; err != nil && !errors.Is(err, tempo.ErrTraceNotFound) {
			failedFetches++
			if failedFetches <= 3 {
				acc.Notices = append(acc.Notices, Notice{NoticeWarning, fmt.Sprintf("trace %s: Tempo failed, its row shows the search's figures: %v", h.TraceID, err)})
			}
		}
	}
	if failedFetches > 3 {
		acc.Notices = append(acc.Notices, Notice{NoticeWarning, fmt.Sprintf("%d more found traces could not be fetched from Tempo", failedFetches-3)})
	}

	// 3. Each trace merged with its own lines, inside its own window: the
	// trace's extent when it was fetched, else the search answer's.
	for i, h := range found.Hits {
		ft := timeline.FoundTrace{TraceID: h.TraceID, RootService: h.RootService, RootName: h.RootName,
			StartNs: h.StartNs, DurationNs: h.DurationNs}
		for _, st := range h.Services {
			ft.SearchSpans += st.Spans
			ft.SearchErrors += st.Errors
		}
		from, to := windows[i].StartNs, windows[i].EndNs
		tr := traces[i]
		if tr != nil && len(tr.Spans) > 0 {
			f, t := e.window(spanExtent(tr.Spans))
			from, to = f.UnixNano(), t.UnixNano()
		} else {
			tr = nil
		}
		var sets [][]timeline.LogRecord
		if lokiByTrace != nil {
			sets = append(sets, inWindow(lokiByTrace[h.TraceID], from, to))
		}
		if kafkaByTrace != nil {
			sets = append(sets, byTopic(inWindow(kafkaByTrace[h.TraceID], from, to), e.cfg.Kafka.Topics)...)
		}
		ft.Model = timeline.Merge(tr, sets...)
		if ft.Model.TraceID == "" {
			ft.Model.TraceID = h.TraceID
		}
		out.Traces[i] = ft
	}
	out.Notices, out.Statuses = acc.Notices, acc.Statuses
	return out, nil
}

// joinGapNs is how far apart two traces' windows may be and still be read
// in one upstream pass: 2 × (window.before + window.after), the range the
// trace query already asks Loki over in one query before it knows the
// trace (see startsEarly), so a joined pass scans at most what one trace
// query may scan.
func (e *Engine) joinGapNs() int64 {
	return 2 * int64(e.cfg.Window.Before+e.cfg.Window.After)
}

// fetchFound fetches the found traces by ID, traceFetchParallel at a time.
// A trace Tempo does not return is nil with its error; a capped or partial
// one comes with its notices, prefixed with its ID.
func (e *Engine) fetchFound(ctx context.Context, hits []tempo.SearchHit) ([]*timeline.Trace, []error, [][]Notice) {
	traces := make([]*timeline.Trace, len(hits))
	errs := make([]error, len(hits))
	notes := make([][]Notice, len(hits))
	sem := make(chan struct{}, traceFetchParallel)
	var wg sync.WaitGroup
	for i, h := range hits {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			var tr *tempo.TimeRange
			if e.cfg.Tempo.SearchTimeRange {
				from, to := e.window(h.StartNs, h.StartNs+h.DurationNs+int64(time.Millisecond))
				tr = &tempo.TimeRange{Start: from, End: to}
			}
			tctx, span := spans.Start(ctx, "traceweave.tempo", spans.TraceID.String(h.TraceID))
			res, err := e.tempo.TraceByID(tctx, h.TraceID, tr)
			span.SetAttributes(spans.TraceFound.Bool(err == nil && len(res.Trace.Spans) > 0))
			if !errors.Is(err, tempo.ErrTraceNotFound) {
				spans.Fail(tctx, span, err)
			}
			span.End()
			if err != nil {
				errs[i] = err
				return
			}
			traces[i], notes[i] = e.keepTrace(res)
			for j := range notes[i] {
				notes[i][j].Text = "trace " + h.TraceID + ": " + notes[i][j].Text
			}
		})
	}
	wg.Wait()
	return traces, errs, notes
}

// inWindow keeps the records in [from, to): the window a trace query of
// that trace asks its sources over.
func inWindow(recs []timeline.LogRecord, from, to int64) []timeline.LogRecord {
	out := make([]timeline.LogRecord, 0, len(recs))
	for _, r := range recs {
		if r.TimeNs >= from && r.TimeNs < to {
			out = append(out, r)
		}
	}
	return out
}

// byTopic splits Kafka records into one set per topic, in configuration
// order: the merge lists a line's sources in the order of its input sets,
// as it does for a trace query's per-topic results.
func byTopic(recs []timeline.LogRecord, topics []models.KafkaTopic) [][]timeline.LogRecord {
	sets := make([][]timeline.LogRecord, len(topics))
	index := make(map[string]int, len(topics))
	for i, t := range topics {
		index[timeline.KafkaSource(t.Name)] = i
	}
	for _, r := range recs {
		if i, ok := index[r.Source]; ok {
			sets[i] = append(sets[i], r)
		}
	}
	return sets
}
