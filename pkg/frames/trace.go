package frames

import (
	"encoding/json"
	"sort"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// Link titles of the trace frame, shown in the trace view's span menus.
const (
	linkTitleLogsForSpan = "Logs for this span"
	linkTitleOpenInTempo = "Open in Tempo"
)

// traceLogName names merged log lines in a span's logs, so the trace view
// tells them apart from the span's own OTLP events (which carry their name).
const traceLogName = "log"

// traceLog is one entry of a span's logs cell in the shape Grafana's trace
// view reads: timestamp in epoch milliseconds, fields as key/value pairs,
// an optional name.
type traceLog struct {
	Timestamp float64             `json:"timestamp"`
	Fields    []timeline.KeyValue `json:"fields"`
	Name      string              `json:"name,omitempty"`
}

// traceReference is a span link in the trace view's references shape.
type traceReference struct {
	SpanID  string              `json:"spanID"`
	TraceID string              `json:"traceID"`
	Tags    []timeline.KeyValue `json:"tags"`
}

// Trace builds the trace frame (NameTrace) from m.Spans, one row per span in
// the model's order, with the fields, types and order Grafana's own Tempo
// datasource gives its trace frame, so Grafana's trace view renders it
// unchanged. Beyond Tempo's content, each span's logs cell holds the log
// lines the merge attached to it (after its OTLP events, all in time order),
// and its tags carry the span's tier and error=true when the merge marked the
// span as failed.
//
// Spans without a span ID are left out: the trace view cannot place them.
// The spanID field links to this datasource's logs of that span when
// opts.DatasourceUID is set; traceID links to the Tempo datasource when
// opts.TempoUID is set.
func Trace(m *timeline.Model, opts Options) *data.Frame {
	var (
		spans   []timeline.SpanNode
		logs    []timeline.Log
		traceID string
	)
	if m != nil {
		spans, logs, traceID = m.Spans, m.Logs, m.TraceID
	}
	n := 0
	for i := range spans {
		if spans[i].SpanID != "" {
			n++
		}
	}
	var (
		traceIDs       = make([]string, 0, n)
		spanIDs        = make([]string, 0, n)
		parentSpanIDs  = make([]string, 0, n)
		operationNames = make([]string, 0, n)
		serviceNames   = make([]string, 0, n)
		kinds          = make([]string, 0, n)
		statusCodes    = make([]int64, 0, n)
		statusMessages = make([]string, 0, n)
		libraryNames   = make([]string, 0, n)
		libraryVers    = make([]string, 0, n)
		traceStates    = make([]string, 0, n)
		serviceTags    = make([]json.RawMessage, 0, n)
		startTimes     = make([]float64, 0, n)
		durations      = make([]float64, 0, n)
		logCells       = make([]json.RawMessage, 0, n)
		references     = make([]json.RawMessage, 0, n)
		tags           = make([]json.RawMessage, 0, n)
	)
	for i := range spans {
		s := &spans[i]
		if s.SpanID == "" {
			continue
		}
		tid := s.TraceID
		if tid == "" {
			tid = traceID
		}
		traceIDs = append(traceIDs, tid)
		spanIDs = append(spanIDs, s.SpanID)
		parentSpanIDs = append(parentSpanIDs, s.ParentSpanID)
		operationNames = append(operationNames, s.Name)
		serviceNames = append(serviceNames, s.Service)
		kinds = append(kinds, traceKind(s.Kind))
		statusCodes = append(statusCodes, s.StatusCode)
		statusMessages = append(statusMessages, s.StatusMessage)
		libraryNames = append(libraryNames, s.ScopeName)
		libraryVers = append(libraryVers, s.ScopeVersion)
		traceStates = append(traceStates, s.TraceState)
		serviceTags = append(serviceTags, traceJSON(keyValuesOrEmpty(s.ResourceAttrs)))
		startTimes = append(startTimes, epochMillis(s.StartNs))
		durations = append(durations, float64(s.DurationNs())/1e6)
		logCells = append(logCells, traceJSON(spanLogs(s, logs)))
		references = append(references, traceJSON(spanReferences(s.Links)))
		tags = append(tags, traceJSON(spanTags(s)))
	}

	traceField := data.NewField("traceID", nil, traceIDs)
	if opts.TempoUID != "" {
		traceField.SetConfig(&data.FieldConfig{Links: []data.DataLink{tempoLink(opts, linkTitleOpenInTempo)}})
	}
	spanField := data.NewField("spanID", nil, spanIDs)
	if opts.DatasourceUID != "" {
		// The trace view offers a field's links as each span's logs link.
		spanField.SetConfig(&data.FieldConfig{Links: []data.DataLink{spanLogsLink(opts, linkTitleLogsForSpan, "traceID")}})
	}

	frame := data.NewFrame(NameTrace,
		traceField,
		spanField,
		data.NewField("parentSpanID", nil, parentSpanIDs),
		data.NewField("operationName", nil, operationNames),
		data.NewField("serviceName", nil, serviceNames),
		data.NewField("kind", nil, kinds),
		data.NewField("statusCode", nil, statusCodes),
		data.NewField("statusMessage", nil, statusMessages),
		data.NewField("instrumentationLibraryName", nil, libraryNames),
		data.NewField("instrumentationLibraryVersion", nil, libraryVers),
		data.NewField("traceState", nil, traceStates),
		data.NewField("serviceTags", nil, serviceTags),
		data.NewField("startTime", nil, startTimes),
		data.NewField("duration", nil, durations),
		data.NewField("logs", nil, logCells),
		data.NewField("references", nil, references),
		data.NewField("tags", nil, tags),
	)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTrace}
	return frame
}

// traceKind writes kinds as Grafana's Tempo datasource does: the lower-case
// OpenTracing names, and nothing for an unspecified kind.
func traceKind(kind string) string {
	if kind == timeline.KindUnspecified {
		return ""
	}
	return kind
}

// spanLogs merges the span's OTLP events and the log lines attached to it
// (indexes into logs) into one time-ordered list; at equal times events come
// first, as they were recorded by the span itself.
func spanLogs(s *timeline.SpanNode, logs []timeline.Log) []traceLog {
	out := make([]traceLog, 0, len(s.Events)+len(s.Logs))
	for _, e := range s.Events {
		out = append(out, traceLog{Timestamp: epochMillis(e.TimeNs), Name: e.Name, Fields: keyValuesOrEmpty(e.Attrs)})
	}
	for _, idx := range s.Logs {
		if idx < 0 || idx >= len(logs) {
			continue
		}
		l := &logs[idx]
		fields := []timeline.KeyValue{
			{Key: "body", Value: l.Body},
			{Key: "severity", Value: l.Severity},
			{Key: "source", Value: l.SourceList()},
		}
		if l.Service != "" {
			fields = append(fields, timeline.KeyValue{Key: "service", Value: l.Service})
		}
		fields = append(fields, timeline.KeyValue{Key: "attach", Value: l.Attach})
		out = append(out, traceLog{Timestamp: epochMillis(l.TimeNs), Name: traceLogName, Fields: fields})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Timestamp < out[j].Timestamp })
	return out
}

func spanReferences(links []timeline.SpanLink) []traceReference {
	out := make([]traceReference, 0, len(links))
	for _, l := range links {
		out = append(out, traceReference{SpanID: l.SpanID, TraceID: l.TraceID, Tags: keyValuesOrEmpty(l.Attrs)})
	}
	return out
}

// spanTags is the span's attributes plus what the merge learned: its tier,
// and error=true (the tag the trace view marks failed spans by) unless the
// span already carries an error attribute of its own.
func spanTags(s *timeline.SpanNode) []timeline.KeyValue {
	out := make([]timeline.KeyValue, 0, len(s.Attrs)+2)
	out = append(out, s.Attrs...)
	if s.Tier != "" {
		out = append(out, timeline.KeyValue{Key: "tier", Value: s.Tier})
	}
	if s.Error {
		hasError := false
		for _, kv := range s.Attrs {
			if kv.Key == "error" {
				hasError = true
				break
			}
		}
		if !hasError {
			out = append(out, timeline.KeyValue{Key: "error", Value: true})
		}
	}
	return out
}

// keyValuesOrEmpty returns [] rather than nil so cells are JSON arrays, never null.
func keyValuesOrEmpty(kvs []timeline.KeyValue) []timeline.KeyValue {
	if kvs == nil {
		return []timeline.KeyValue{}
	}
	return kvs
}

// traceJSON encodes a cell. Values come from timeline.KeyValue, which the
// tempo package keeps JSON-encodable (NaN and ±Inf become strings); should a
// value from elsewhere still fail, the row keeps an empty list rather than
// the whole frame failing.
func traceJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`[]`)
	}
	return b
}

// epochMillis converts epoch nanoseconds to the float milliseconds the trace
// view reads. Dividing the whole nanosecond count by 1e6 loses precision at
// today's epoch (130.000 ms became 129.9998); splitting at the microsecond
// keeps the value exact to the microsecond.
func epochMillis(ns int64) float64 { return float64(ns/1e3) / 1e3 }
