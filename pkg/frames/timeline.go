package frames

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// FirstErrorText states the trace's first error the way notices and the CLI
// say it: "first error: <service> <name> at +<offset> ms".
func FirstErrorText(e *timeline.ErrorEvent) string {
	return fmt.Sprintf("first error: %s %s at +%s ms", e.Service, clipText(e.Name, 120), formatMs(e.OffsetNs))
}

// formatMs writes nanoseconds as milliseconds to the microsecond, without
// trailing zeros ("12.5", "3").
func formatMs(ns int64) string {
	return strconv.FormatFloat(math.Round(float64(ns)/1e3)/1e3, 'f', -1, 64)
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
// attach follow. Spans have severity "error" when their status is error and
// "" otherwise; logs have depth = their span's depth + 1 (0 when
// trace-level) and spanId = the span they are attached to. The frame meta
// carries the first-error sentence as a notice (and in Custom.firstError).
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
			services[i], tiers[i], names[i] = s.Service, cmp.Or(s.Tier, timeline.TierOther), s.Name
			durations[i] = &d
			spanIDs[i] = s.SpanID
			sources[i] = timeline.SourceTempo
			// A span's severity says whether the span itself failed; error
			// logs inside it have rows of their own.
			if s.StatusCode == timeline.StatusError {
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
			if j, ok := m.SpanIndex(l.AttachedSpanID); ok {
				// A log nests one level under its span; a line without a
				// service (Kafka raw) takes the service of its span.
				depths[i] = int64(m.Spans[j].Depth) + 1
				if services[i] == "" {
					services[i] = m.Spans[j].Service
				}
			}
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
	}
	setTraceLinks(traceField, opts)
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

// FirstError builds the firstError frame (NameFirstError): the timeline
// frame's fields, links and notice with one row, the trace's first error
// (m.Summary.FirstError), or no row when nothing failed. A stat panel that
// shows the first error reads this one row rather than the timeline frame,
// which at 100k lines is tens of megabytes of Arrow.
func FirstError(m *timeline.Model, opts Options) *data.Frame {
	cut := *m // shares the model's slices, which neither frame modifies
	cut.Events = nil
	if m.Summary != nil && m.Summary.FirstError != nil {
		fe := m.Summary.FirstError
		ev := timeline.Event{Kind: fe.Kind, Index: fe.Index}
		switch {
		case fe.Kind == timeline.EventSpan && fe.Index >= 0 && fe.Index < len(m.Spans):
			ev.TimeNs = m.Spans[fe.Index].StartNs
			cut.Events = []timeline.Event{ev}
		case fe.Kind == timeline.EventLog && fe.Index >= 0 && fe.Index < len(m.Logs):
			ev.TimeNs = m.Logs[fe.Index].TimeNs
			cut.Events = []timeline.Event{ev}
		}
	}
	f := Timeline(&cut, opts)
	f.Name = NameFirstError
	return f
}
