// Package engine runs one Traceweave query end to end, and is the one
// implementation of the query flow that the Grafana plugin and the CLI share:
//
//  1. Tempo: the trace, whose extent padded by window.before and
//     window.after is the log window W. Without a trace (Tempo not asked,
//     failed, or has no such trace) W is the query's own time range.
//  2. Loki and Kafka concurrently over W, then the pure merge
//     (timeline.Merge).
//
// Loki and Kafka start as soon as Tempo's answer is read, not after it is
// decoded: tempo.ScanExtent reads the span timestamps of a protobuf answer
// in ~1/15 of the decode's time, and the queries run on the window it
// predicts while the spans are decoded. The decoded trace decides: if its
// window differs (it never should; the fuzz test holds them equal), the
// queries are stopped and asked again over the decoded window, so the
// result is the one of the steps above.
//
// Loki may start early, concurrently with Tempo: when Tempo and Loki are
// both asked and the query's time range [From, To) is set and at most
// 2 × (window.before + window.after) long (5 minutes with the defaults),
// Loki is asked over [From, To) before W is known. When W is known, the
// early lines inside W are kept and only the parts of W outside [From, To)
// are asked; without a trace W is [From, To) and the early answer is the
// whole answer. The result is the one Loki over W would give (see
// queryLoki). A longer range is not started early: a real Loki's cost grows
// with the range scanned, so over a long range the early query may cost
// more than the Tempo round trip it hides. The benchmarks' fake Loki costs
// the same for any range, so the limit is a decision the measurements
// (BenchmarkLokiEarlyStart, BenchmarkEarlyStartQueryData) support for short
// ranges, not one they prove for long ones. Kafka always waits for W: its
// reader sizes the scan to the window.
package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"

	"github.com/traceweave/traceweave/internal/safetext"
	"github.com/traceweave/traceweave/internal/spans"
	"github.com/traceweave/traceweave/pkg/kafka"
	"github.com/traceweave/traceweave/pkg/loki"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/tempo"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// Engine holds one client per configured upstream. It is safe for
// concurrent use: Grafana runs many queries on one datasource instance.
type Engine struct {
	cfg *models.Settings
	// redact scrubs secrets from every text that leaves the engine: an
	// upstream may echo credentials back in an error body.
	redact *safetext.Redactor
	tempo  *tempo.Client
	loki   *loki.Client
	kafka  *kafka.Reader
	// tierStyles are cfg.Tiers' order and colours, merged once per
	// datasource rather than per query.
	tierStyles []models.TierStyle
}

// New creates the clients of the configured upstreams. Nothing is
// contacted yet: a down upstream must not stop the datasource from loading.
// Tempo and Loki get no options from Grafana (no secure socks proxy): the CLI
// and the tests build engines this way; the plugin uses NewFrom.
func New(cfg *models.Settings, kafkaOpts ...kafka.Option) (*Engine, error) {
	return NewFrom(httpclient.Options{}, cfg, kafkaOpts...)
}

// NewFrom is New whose Tempo and Loki clients start from httpBase, the
// options Grafana configures for every datasource
// (backend.DataSourceInstanceSettings.HTTPClientOptions: the secure socks
// proxy among them); upstream.ClientOptionsFrom says which of them apply.
func NewFrom(httpBase httpclient.Options, cfg *models.Settings, kafkaOpts ...kafka.Option) (*Engine, error) {
	e := &Engine{cfg: cfg, redact: safetext.NewRedactor(cfg.Secrets(),
		[2]string{cfg.Tempo.BasicAuthUser, cfg.Tempo.Password},
		[2]string{cfg.Loki.BasicAuthUser, cfg.Loki.Password},
		[2]string{cfg.Kafka.SASL.Username, cfg.Kafka.SASL.Password}),
		tierStyles: models.TierStyles(cfg.Tiers)}
	var err error
	if cfg.Tempo.Configured() {
		if e.tempo, err = tempo.NewFrom(httpBase, cfg.Tempo); err != nil {
			return nil, fmt.Errorf("tempo: %w", err)
		}
	}
	if cfg.Loki.Configured() {
		if e.loki, err = loki.NewFrom(httpBase, cfg.Loki); err != nil {
			return nil, fmt.Errorf("loki: %w", err)
		}
	}
	if cfg.Kafka.Configured() {
		if e.kafka, err = kafka.New(cfg.Kafka, kafkaOpts...); err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
	}
	return e, nil
}

// Settings returns the settings the engine was built from.
func (e *Engine) Settings() *models.Settings { return e.cfg }

// Close releases the upstream clients (idle HTTP connections, Kafka connections).
func (e *Engine) Close() {
	if e.tempo != nil {
		e.tempo.Close()
	}
	if e.loki != nil {
		e.loki.Close()
	}
	if e.kafka != nil {
		e.kafka.Close()
	}
}

// Configured reports whether a source (models.Source*) has settings.
func (e *Engine) Configured(source string) bool {
	switch source {
	case models.SourceTempo:
		return e.tempo != nil
	case models.SourceLoki:
		return e.loki != nil
	case models.SourceKafka:
		return e.kafka != nil
	}
	return false
}

// Request is one query: a normalised trace ID, the sources to ask (empty:
// all configured) and the panel's time range, used when the trace itself
// cannot give the window, and, when it is short, to start Loki before
// Tempo answers (see the package comment).
type Request struct {
	TraceID string
	Sources []string
	From    time.Time
	To      time.Time
}

// Notice severities, mapped to Grafana frame notices by the caller.
const (
	NoticeInfo    = "info"
	NoticeWarning = "warning"
)

// Notice is one message for the user about how the result was obtained.
type Notice struct {
	Severity string
	Text     string
}

// SourceStatus is what one source (tempo, loki, kafka:<topic>) did.
type SourceStatus struct {
	Source  string
	Err     error
	Records int
}

// Outcome is the result of Run.
type Outcome struct {
	Model *timeline.Model
	// TraceFound is false when Tempo was not asked, failed, or has no such trace.
	TraceFound bool
	// WindowFrom and WindowTo are the log search window actually used.
	WindowFrom, WindowTo time.Time
	Statuses             []SourceStatus
	Notices              []Notice
}

// ErrNoSource means the query asked for no source that is configured.
var ErrNoSource = errors.New("no configured source to query")

// AllFailedError is returned when every requested source failed; it lists
// each failure so the panel error names them all.
type AllFailedError struct{ Statuses []SourceStatus }

func (e *AllFailedError) Error() string {
	parts := make([]string, 0, len(e.Statuses))
	for _, s := range e.Statuses {
		parts = append(parts, fmt.Sprintf("%s: %v", s.Source, s.Err))
	}
	return "every source failed: " + strings.Join(parts, "; ")
}

// Unwrap exposes the individual errors to errors.Is/As.
func (e *AllFailedError) Unwrap() []error {
	out := make([]error, 0, len(e.Statuses))
	for _, s := range e.Statuses {
		out = append(out, s.Err)
	}
	return out
}

// Run executes a request. It returns an error only when no source could be
// asked or every asked source failed; otherwise failures are notices and
// the result is partial.
//
// Run is one span, "traceweave.run", the parent of the upstreams' and the
// merge's spans (docs/DESIGN.md, "Tracing").
func (e *Engine) Run(ctx context.Context, req Request) (*Outcome, error) {
	ctx = spans.WithRedactor(ctx, e.redact)
	ctx, span := spans.Start(ctx, "traceweave.run", spans.TraceID.String(req.TraceID),
		spans.Sources.StringSlice(req.Sources))
	defer span.End()
	out, err := e.run(ctx, req)
	if out != nil {
		e.scrub(out.Notices, out.Statuses)
		span.SetAttributes(spans.TraceFound.Bool(out.TraceFound))
		if validWindow(out.WindowFrom, out.WindowTo) {
			span.SetAttributes(spans.WindowStart.Int64(out.WindowFrom.UnixNano()), spans.WindowEnd.Int64(out.WindowTo.UnixNano()))
		}
	}
	spans.Fail(ctx, span, err)
	return out, e.redact.Error(err)
}

// scrub removes the configured secrets from the texts that leave the engine.
func (e *Engine) scrub(notices []Notice, statuses []SourceStatus) {
	for i := range notices {
		notices[i].Text = e.redact.Text(notices[i].Text)
	}
	for i := range statuses {
		statuses[i].Err = e.redact.Error(statuses[i].Err)
	}
}

func (e *Engine) run(ctx context.Context, req Request) (*Outcome, error) {
	want := func(s string) bool {
		return e.Configured(s) && (len(req.Sources) == 0 || slices.Contains(req.Sources, s))
	}
	out := &Outcome{}
	for _, s := range req.Sources {
		if !e.Configured(s) {
			out.Notices = append(out.Notices, Notice{NoticeInfo, fmt.Sprintf("%s is not configured on this datasource; skipped", s)})
		}
	}
	if !want(models.SourceTempo) && !want(models.SourceLoki) && !want(models.SourceKafka) {
		return nil, ErrNoSource
	}

	// 0. Loki over the query's own short range, while Tempo answers.
	var early *earlyLoki
	if want(models.SourceTempo) && want(models.SourceLoki) && e.startsEarly(req) {
		early = e.startEarlyLoki(ctx, req.TraceID, req.From.UnixNano(), req.To.UnixNano())
		// Every return below must end the early query's goroutine; after
		// queryLoki consumed the answer this only releases its context.
		defer early.stop()
	}

	// 1. Tempo: the trace, and with it the time window of its logs. The
	// window is predicted from the answer's span timestamps before the spans
	// are decoded (tempo.ScanExtent), and Loki and Kafka start on it at once;
	// the decoded trace then confirms the window, or the queries are
	// restarted on the decoded one.
	var spec *logQueries
	defer func() {
		if spec != nil {
			spec.stop() // no query outlives Run, whatever the return path
		}
	}()
	var trace *timeline.Trace
	notFound := false
	if want(models.SourceTempo) {
		var tr *tempo.TimeRange
		if e.cfg.Tempo.SearchTimeRange && !req.From.IsZero() && !req.To.IsZero() {
			tr = &tempo.TimeRange{Start: req.From, End: req.To}
		}
		onExtent := func(x tempo.Extent) {
			if limit := e.cfg.Tempo.MaxSpans; limit > 0 && x.Spans > limit {
				return // the window comes from the spans kept, known after the decode
			}
			if from, to := e.window(x.StartNs, x.EndNs); validWindow(from, to) {
				spec = e.startLogQueries(ctx, req.TraceID, want, from, to, early)
			}
		}
		// Tempo's span ends when its answer is decoded; the log queries
		// onExtent starts are the run's children, not Tempo's.
		tctx, tspan := spans.Start(ctx, "traceweave.tempo", spans.TraceID.String(req.TraceID))
		res, err := e.tempo.TraceByIDWithExtent(tctx, req.TraceID, tr, onExtent)
		if err == nil {
			tspan.SetAttributes(spans.TempoSpans.Int(len(res.Trace.Spans)), spans.TempoPartial.Bool(res.Partial))
		}
		tspan.SetAttributes(spans.TraceFound.Bool(err == nil && len(res.Trace.Spans) > 0))
		if !errors.Is(err, tempo.ErrTraceNotFound) {
			spans.Fail(tctx, tspan, err)
		}
		tspan.End()
		st := SourceStatus{Source: models.SourceTempo}
		switch {
		case errors.Is(err, tempo.ErrTraceNotFound):
			notFound = true
			out.Notices = append(out.Notices, Notice{NoticeWarning, fmt.Sprintf("trace %s not found in Tempo; logs were searched over the query's time range", req.TraceID)})
		case err != nil:
			st.Err = err
			out.Notices = append(out.Notices, Notice{NoticeWarning, fmt.Sprintf("Tempo failed, logs were searched over the query's time range: %v", err)})
		default:
			st.Records = len(res.Trace.Spans)
			out.TraceFound = len(res.Trace.Spans) > 0
			var notices []Notice
			trace, notices = e.keepTrace(res)
			out.Notices = append(out.Notices, notices...)
		}
		out.Statuses = append(out.Statuses, st)
	}

	// 2. The log window: the trace's extent padded, else the query's range.
	out.WindowFrom, out.WindowTo = req.From, req.To
	if out.TraceFound {
		out.WindowFrom, out.WindowTo = e.window(spanExtent(trace.Spans))
	}
	haveWindow := validWindow(out.WindowFrom, out.WindowTo)
	if !haveWindow && (want(models.SourceLoki) || want(models.SourceKafka)) {
		out.Notices = append(out.Notices, Notice{NoticeWarning, "no time window to search logs in: the trace was not found and the query has no time range"})
	}

	// 3. Loki (or the rest of the early Loki query) and Kafka concurrently
	// over the window: the queries started on the predicted window if it was
	// right, else new ones.
	lq := spec
	if lq != nil && (!haveWindow || !lq.from.Equal(out.WindowFrom) || !lq.to.Equal(out.WindowTo)) {
		lq.stop()
		// The stopped queries may have taken the early Loki answer: the
		// new ones ask Loki over the whole window.
		lq, early = nil, nil
	}
	if lq == nil && haveWindow {
		lq = e.startLogQueries(ctx, req.TraceID, want, out.WindowFrom, out.WindowTo, early)
	}
	logSets := make([][]timeline.LogRecord, 0, 1+len(e.cfg.Kafka.Topics))
	if lq != nil {
		lq.wait()
		if lq.askedLoki {
			logSets = append(logSets, e.lokiOutcome(out, lq.lokiRes, lq.lokiErr))
		}
		if lq.kafkaRes != nil {
			logSets = append(logSets, kafkaOutcome(out, lq.kafkaRes)...)
		}
	}

	// 4. Fail the request only when every source asked failed.
	failed := 0
	for _, s := range out.Statuses {
		if s.Err != nil {
			failed++
		}
	}
	if len(out.Statuses) > 0 && failed == len(out.Statuses) {
		return nil, &AllFailedError{Statuses: out.Statuses}
	}
	_, mspan := spans.Start(ctx, "traceweave.merge")
	out.Model = timeline.Merge(trace, logSets...)
	mspan.SetAttributes(spans.MergeSpans.Int(len(out.Model.Spans)), spans.MergeLogs.Int(len(out.Model.Logs)))
	mspan.End()
	if out.Model.TraceID == "" {
		out.Model.TraceID = req.TraceID
	}
	if notFound && len(out.Model.Logs) == 0 {
		return out, fmt.Errorf("%w: trace %s not found in Tempo, and no log lines found for it", tempo.ErrTraceNotFound, req.TraceID)
	}
	return out, nil
}

// keepTrace prepares a fetched trace for the merge: capped at
// tempo.maxSpans, tiers assigned by the tier rules, with the notices a capped
// or partial answer needs.
func (e *Engine) keepTrace(res *tempo.Result) (*timeline.Trace, []Notice) {
	var notices []Notice
	trace := &res.Trace
	if n, limit := len(trace.Spans), e.cfg.Tempo.MaxSpans; limit > 0 && n > limit {
		trace.Spans = earliestSpans(trace.Spans, limit)
		notices = append(notices, Notice{NoticeWarning, fmt.Sprintf("trace capped at %d of %d spans (tempo.maxSpans): the earliest-starting spans are shown", limit, n)})
	}
	if res.Partial {
		msg := "Tempo returned a partial trace"
		if res.Message != "" {
			msg += ": " + res.Message
		}
		notices = append(notices, Notice{NoticeWarning, msg})
	}
	timeline.AssignTiers(trace.Spans, e.cfg.Tiers)
	trace.TierStyles = e.tierStyles
	return trace, notices
}

// earliestSpans keeps the limit earliest-starting spans: the root and the
// start of the request, where an investigation begins.
func earliestSpans(spans []timeline.Span, limit int) []timeline.Span {
	kept := slices.Clone(spans)
	slices.SortStableFunc(kept, func(a, b timeline.Span) int { return cmp.Compare(a.StartNs, b.StartNs) })
	return kept[:limit]
}

func spanExtent(spans []timeline.Span) (lo, hi int64) {
	for i, s := range spans {
		if i == 0 || s.StartNs < lo {
			lo = s.StartNs
		}
		if i == 0 || s.EndNs > hi {
			hi = s.EndNs
		}
	}
	return lo, hi
}
