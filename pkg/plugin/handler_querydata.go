package plugin

import (
	"context"
	"sync"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/concurrent"

	"github.com/traceweave/traceweave/pkg/engine"
	"github.com/traceweave/traceweave/pkg/frames"
	"github.com/traceweave/traceweave/pkg/models"
)

// maxConcurrentQueries bounds how many RefIDs of one request run at once;
// each already fans out to three upstreams.
const maxConcurrentQueries = 5

// newMux routes both query types (and a missing one) to the same handler:
// the query type only changes which frames are returned.
func (d *Datasource) newMux() *datasource.QueryTypeMux {
	mux := datasource.NewQueryTypeMux()
	handler := backend.QueryDataHandlerFunc(d.handleQueries)
	mux.Handle(models.QueryTypeTimeline, handler)
	mux.Handle(models.QueryTypeLogs, handler)
	mux.Handle("", handler)
	return mux
}

// QueryData answers Grafana's data requests. It never fails the whole
// request for one bad query: each RefID gets its own response or error.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	return d.mux.QueryData(ctx, req)
}

func (d *Datasource) handleQueries(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	return concurrent.QueryData(ctx, req, func(ctx context.Context, q concurrent.Query) backend.DataResponse {
		return d.query(ctx, q.DataQuery)
	}, maxConcurrentQueries)
}

// query runs one RefID: validate before any upstream call, run the engine,
// build the frames of the requested query type.
func (d *Datasource) query(ctx context.Context, dq backend.DataQuery) backend.DataResponse {
	q, err := models.ParseQuery(dq.JSON, dq.QueryType)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	if d.settingsErr != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream,
			"the datasource settings are invalid, fix them on the datasource page: "+d.settingsErr.Error())
	}
	out, err := d.engine.Run(ctx, engine.Request{
		TraceID: q.TraceID,
		Sources: q.Sources,
		From:    dq.TimeRange.From,
		To:      dq.TimeRange.To,
	})
	if err != nil {
		log.DefaultLogger.FromContext(ctx).Debug("query failed", "refId", dq.RefID, "error", err)
		return errorResponse(err)
	}
	fs := d.buildFrames(q, out)
	return backend.DataResponse{Frames: fs}
}

// buildFrames selects the frames of the query type and attaches the
// engine's notices to the first frame, where Grafana shows them.
func (d *Datasource) buildFrames(q models.Query, out *engine.Outcome) data.Frames {
	cfg := d.engine.Settings()
	opts := frames.Options{
		DatasourceUID:  d.uid,
		DatasourceName: d.name,
		TempoUID:       cfg.Tempo.DatasourceUID,
		LokiUID:        cfg.Loki.DatasourceUID,
		LokiSelector:   cfg.Loki.Selector,
	}
	var fs data.Frames
	m := out.Model
	if q.QueryType == models.QueryTypeLogs {
		if q.SpanID != "" {
			m = m.ForSpan(q.SpanID)
		}
		fs = data.Frames{frames.Logs(m, opts)}
	} else {
		// Always all four frames, in this order: dashboards pick a panel's
		// frame by index (Grafana has no frame-name filter transformation).
		// They only read the model, so they are built concurrently: at 100k
		// logs each takes 50–200 ms (BENCHMARKS.md).
		fs = make(data.Frames, 4)
		var wg sync.WaitGroup
		for i, build := range []func() *data.Frame{
			func() *data.Frame { return frames.Trace(m, opts) },
			func() *data.Frame { return frames.Logs(m, opts) },
			func() *data.Frame { return frames.Timeline(m, opts) },
			func() *data.Frame { return frames.Summary(m) },
		} {
			wg.Go(func() { fs[i] = build() })
		}
		wg.Wait()
	}
	notices := make([]data.Notice, 0, len(out.Notices))
	for _, n := range out.Notices {
		sev := data.NoticeSeverityInfo
		if n.Severity == engine.NoticeWarning {
			sev = data.NoticeSeverityWarning
		}
		notices = append(notices, data.Notice{Severity: sev, Text: n.Text})
	}
	if len(notices) > 0 {
		f := fs[0]
		if f.Meta == nil {
			f.Meta = &data.FrameMeta{}
		}
		f.Meta.Notices = append(f.Meta.Notices, notices...)
	}
	return fs
}
