package frames

import (
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// FirstErrorText states the trace's first error the way notices and the CLI
// say it: "first error: <service> <name> at +<offset> ms".
func FirstErrorText(e *timeline.ErrorEvent) string {
	return fmt.Sprintf("first error: %s %s at +%.3f ms", e.Service, clipText(e.Name, 120), float64(e.OffsetNs)/1e6)
}

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Timeline builds the timeline frame (NameTimeline): one row per event —
// a span start or a log line — in time order. The first ten fields are the
// public contract (time, offset, kind, service, tier, name, duration,
// spanId, source, severity); traceId, critical, firstError, depth and
// attach follow. The frame meta carries the first-error sentence.
func Timeline(m *timeline.Model, opts Options) *data.Frame {
	n := len(m.Events)
	var (
		times      = make([]time.Time, n)
		offsets    = make([]float64, n)
		kinds      = make([]string, n)
		services   = make([]string, n)
		tiers      = make([]string, n)
		names      = make([]string, n)
		durations  = make([]*float64, n)
		spanIDs    = make([]string, n)
		sources    = make([]string, n)
		severities = make([]string, n)
		traceIDs   = make([]string, n)
		critical   = make([]bool, n)
		firstError = make([]bool, n)
		depths     = make([]int64, n)
		attaches   = make([]string, n)
	)
	fe := (*timeline.ErrorEvent)(nil)
	if m.Summary != nil {
		fe = m.Summary.FirstError
	}
	for i, ev := range m.Events {
		times[i] = time.Unix(0, ev.TimeNs).UTC()
		offsets[i] = float64(ev.TimeNs-m.StartNs) / 1e6
		kinds[i] = ev.Kind
		traceIDs[i] = m.TraceID
		if ev.Kind == timeline.EventSpan {
			s := &m.Spans[ev.Index]
			d := float64(s.DurationNs()) / 1e6
			services[i], tiers[i], names[i] = s.Service, s.Tier, s.Name
			durations[i] = &d
			spanIDs[i] = s.SpanID
			sources[i] = timeline.SourceTempo
			if s.Error {
				severities[i] = timeline.SeverityError
			}
			critical[i] = s.Critical
			depths[i] = int64(s.Depth)
			if s.TraceID != "" {
				traceIDs[i] = s.TraceID
			}
		} else {
			l := &m.Logs[ev.Index]
			services[i], tiers[i], names[i] = l.Service, l.Tier, l.Body
			spanIDs[i] = l.AttachedSpanID
			sources[i] = l.SourceList()
			severities[i] = l.Severity
			attaches[i] = l.Attach
			depths[i] = -1
			if l.TraceID != "" {
				traceIDs[i] = l.TraceID
			}
		}
		firstError[i] = fe != nil && fe.Kind == ev.Kind && fe.Index == ev.Index
	}

	spanField := data.NewField("spanId", nil, spanIDs)
	traceField := data.NewField("traceId", nil, traceIDs)
	if opts.DatasourceUID != "" {
		spanField.SetConfig(&data.FieldConfig{Links: []data.DataLink{spanLogsLink(opts, "Logs of this span", "traceId")}})
		links := []data.DataLink{timelineLink(opts, linkTitleOpenTimeline)}
		if opts.TempoUID != "" {
			links = append(links, tempoLink(opts, "Open in Tempo"))
		}
		traceField.SetConfig(&data.FieldConfig{Links: links})
	}
	frame := data.NewFrame(NameTimeline,
		data.NewField("time", nil, times),
		data.NewField("offset", nil, offsets).SetConfig(&data.FieldConfig{Unit: "ms"}),
		data.NewField("kind", nil, kinds),
		data.NewField("service", nil, services),
		data.NewField("tier", nil, tiers),
		data.NewField("name", nil, names),
		data.NewField("duration", nil, durations).SetConfig(&data.FieldConfig{Unit: "ms"}),
		spanField,
		data.NewField("source", nil, sources),
		data.NewField("severity", nil, severities),
		traceField,
		data.NewField("critical", nil, critical),
		data.NewField("firstError", nil, firstError),
		data.NewField("depth", nil, depths),
		data.NewField("attach", nil, attaches),
	)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	if fe != nil {
		frame.Meta.Custom = map[string]any{"firstError": FirstErrorText(fe)}
		frame.Meta.Notices = append(frame.Meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning, Text: FirstErrorText(fe)})
	}
	return frame
}

// Summary builds the summary frame (NameSummary): one row per tier, in the
// request's path order, with its services, span count, self time, share of
// the trace's wall time, errors and logs.
func Summary(m *timeline.Model) *data.Frame {
	var rows []timeline.TierStat
	if m.Summary != nil {
		rows = m.Summary.Tiers
	}
	n := len(rows)
	var (
		tiers    = make([]string, n)
		services = make([]string, n)
		spans    = make([]int64, n)
		selfTime = make([]float64, n)
		share    = make([]float64, n)
		errs     = make([]int64, n)
		logs     = make([]int64, n)
	)
	for i, r := range rows {
		tiers[i] = r.Tier
		services[i] = strings.Join(r.Services, ",")
		spans[i] = int64(r.Spans)
		selfTime[i] = float64(r.SelfNs) / 1e6
		share[i] = r.Share
		errs[i] = int64(r.Errors)
		logs[i] = int64(r.Logs)
	}
	frame := data.NewFrame(NameSummary,
		data.NewField("tier", nil, tiers),
		data.NewField("services", nil, services),
		data.NewField("spans", nil, spans),
		data.NewField("selfTime", nil, selfTime).SetConfig(&data.FieldConfig{Unit: "ms"}),
		data.NewField("share", nil, share).SetConfig(&data.FieldConfig{Unit: "percentunit"}),
		data.NewField("errors", nil, errs),
		data.NewField("logs", nil, logs),
	)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	if m.Summary != nil && m.Summary.FirstError != nil {
		frame.Meta.Custom = map[string]any{"firstError": FirstErrorText(m.Summary.FirstError)}
	}
	return frame
}
