package plugin

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/concurrent"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/traceweave/traceweave/internal/admission"
	"github.com/traceweave/traceweave/internal/spans"
	"github.com/traceweave/traceweave/pkg/engine"
	"github.com/traceweave/traceweave/pkg/frames"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/sharedrun"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// maxConcurrentQueries bounds how many RefIDs of one request run at once;
// each already fans out to three upstreams.
const maxConcurrentQueries = 5

// encodeFactor turns the estimated size of an answer's frames into what
// building and sending it costs at the peak: the frames themselves, then the
// SDK's Arrow builders and IPC buffers, which at 100k lines took 157 MB for
// 85 MB of frames (BENCHMARKS.md, run E).
const encodeFactor = 3

// admissionNoticeAfter is how long an answer may wait for memory before its
// panel is told why it was slow.
const admissionNoticeAfter = 50 * time.Millisecond

// QueryData answers Grafana's data requests. It never fails the whole
// request for one bad query: each RefID gets its own response or error.
// Every query type goes through the same path: the query's frame selection
// (models.Query.Frames) decides what is built from the shared run.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	// The call's answers reach gRPC's codec together (internal/admission).
	ctx = admission.WithCall(ctx)
	return concurrent.QueryData(ctx, req, func(ctx context.Context, q concurrent.Query) backend.DataResponse {
		return d.query(ctx, q.DataQuery)
	}, maxConcurrentQueries)
}

// query runs one RefID: validate before any upstream call, get the trace's
// run (shared with the other panels of the dashboard, see pkg/sharedrun),
// wait for room to build the answer, build the frames the query selects.
//
// Each query is a span, "traceweave.query", whose traceweave.run attribute
// says whether it started, joined or reused the trace's run
// (docs/DESIGN.md, "Tracing").
func (d *Datasource) query(ctx context.Context, dq backend.DataQuery) (resp backend.DataResponse) {
	ctx, span := spans.Start(ctx, "traceweave.query", spans.RefID.String(dq.RefID), spans.QueryType.String(dq.QueryType))
	defer func() {
		if resp.Error != nil {
			// The response's error is the engine's, already scrubbed.
			span.SetStatus(codes.Error, resp.Error.Error())
			span.AddEvent("exception", trace.WithAttributes(attribute.String("exception.message", resp.Error.Error())))
		}
		span.End()
	}()
	q, err := models.ParseQuery(dq.JSON, dq.QueryType)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	if d.settingsErr != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream,
			"the datasource settings are invalid, fix them on the datasource page: "+d.settingsErr.Error())
	}
	if q.QueryType == models.QueryTypeSearch {
		return d.search(ctx, dq, q)
	}
	res, err := d.runs.Do(ctx, engine.Request{
		TraceID: q.TraceID,
		Sources: q.Sources,
		From:    dq.TimeRange.From,
		To:      dq.TimeRange.To,
	})
	if res.Via != "" {
		span.SetAttributes(spans.Run.String(res.Via))
	}
	if err != nil {
		log.DefaultLogger.FromContext(ctx).Debug("query failed", "refId", dq.RefID, "error", err)
		return errorResponse(err)
	}
	out := res.Outcome
	m := out.Model
	if q.QueryType == models.QueryTypeLogs && q.SpanID != "" {
		m = m.ForSpan(q.SpanID)
	}
	opts := d.frameOptions()
	ticket, err := d.gate.Acquire(ctx, encodeFactor*frames.EstimateBytes(m, q.Frames, opts))
	if err != nil {
		return errorResponse(err)
	}
	defer ticket.Done()
	notices := make([]engine.Notice, 0, len(out.Notices)+2)
	notices = append(notices, out.Notices...)
	if res.Via == sharedrun.ViaKept {
		// A refresh inside cache.ttl shows no newer lines: say how old this is.
		notices = append(notices, engine.Notice{Severity: engine.NoticeInfo, Text: fmt.Sprintf(
			"answered from this trace's fetch of %s ago, shared with the other panels (cache.ttl %s)",
			res.Age.Round(time.Millisecond), d.engine.Settings().Cache.TTLOrDefault())})
	}
	switch {
	case ticket.Alone:
		notices = append(notices, engine.Notice{Severity: engine.NoticeInfo, Text: fmt.Sprintf(
			"this answer is larger than the plugin's memory budget for answers (%d MB), so it was built with no other answer beside it (waited %s)",
			d.gate.Budget()>>20, ticket.Waited.Round(time.Millisecond))})
	case ticket.Waited >= admissionNoticeAfter:
		notices = append(notices, engine.Notice{Severity: engine.NoticeInfo, Text: fmt.Sprintf(
			"waited %s for memory: other large answers were being built (the plugin's budget for answers is %d MB; see memory_limit in the README)",
			ticket.Waited.Round(time.Millisecond), d.gate.Budget()>>20)})
	}
	return backend.DataResponse{Frames: buildFrames(ctx, m, q.Frames, opts, notices)}
}

// search runs a search query (docs/DESIGN.md, "Search"). It does not share
// runs with other panels: a dashboard has one search panel, and its rows'
// traces are fetched together inside the one run. Its frame is a row per
// trace (at most models.MaxSearchLimit rows), so it is built without
// reserving memory for it.
func (d *Datasource) search(ctx context.Context, dq backend.DataQuery, q models.Query) backend.DataResponse {
	out, err := d.engine.Search(ctx, engine.SearchRequest{
		TraceQL: q.TraceQL,
		Limit:   q.Limit,
		Sources: q.Sources,
		From:    dq.TimeRange.From,
		To:      dq.TimeRange.To,
	})
	if err != nil {
		log.DefaultLogger.FromContext(ctx).Debug("search failed", "refId", dq.RefID, "error", err)
		return errorResponse(err)
	}
	_, span := spans.Start(ctx, "traceweave.frame", spans.Frame.String(frames.NameSearch))
	f := frames.Search(out.Traces, out.LogSources, d.frameOptions())
	span.SetAttributes(spans.FrameRows.Int(f.Rows()))
	span.End()
	addNotices(f, out.Notices)
	return backend.DataResponse{Frames: data.Frames{f}}
}

// frameOptions are the instance's settings for building frames.
func (d *Datasource) frameOptions() frames.Options {
	cfg := d.engine.Settings()
	return frames.Options{
		DatasourceUID:  d.uid,
		DatasourceName: d.name,
		TempoUID:       cfg.Tempo.DatasourceUID,
		LokiUID:        cfg.Loki.DatasourceUID,
		LokiSelector:   cfg.Loki.Selector,
		MaxLogsPerSpan: cfg.TraceView.MaxLogsPerSpan,
	}
}

// buildFrames builds the selected frames, in the selection's order (which
// ParseQuery keeps in models.AllFrames order: saved dashboards without a
// selection pick their frame by index), and attaches the notices to the
// first frame, where Grafana shows them. The frames only read the model, so
// they are built concurrently: at 100k logs each takes 50–200 ms
// (BENCHMARKS.md).
func buildFrames(ctx context.Context, m *timeline.Model, names []string, opts frames.Options, notices []engine.Notice) data.Frames {
	fs := make(data.Frames, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			_, span := spans.Start(ctx, "traceweave.frame", spans.Frame.String(name))
			fs[i] = frames.Build(name, m, opts)
			if fs[i] != nil {
				span.SetAttributes(spans.FrameRows.Int(fs[i].Rows()))
			}
			span.End()
		})
	}
	wg.Wait()
	if len(fs) > 0 {
		addNotices(fs[0], notices)
	}
	return fs
}

// addNotices attaches the engine's notices to f, the frame Grafana shows
// them on.
func addNotices(f *data.Frame, notices []engine.Notice) {
	if len(notices) == 0 {
		return
	}
	if f.Meta == nil {
		f.Meta = &data.FrameMeta{}
	}
	for _, n := range notices {
		sev := data.NoticeSeverityInfo
		if n.Severity == engine.NoticeWarning {
			sev = data.NoticeSeverityWarning
		}
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{Severity: sev, Text: n.Text})
	}
}
