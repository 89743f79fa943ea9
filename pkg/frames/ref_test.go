package frames

import (
	"cmp"
	"encoding/json"
	"slices"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// The trace and logs frames as they were built before the frames-speed
// changes, verbatim but for their names: the references the new builds are
// compared with byte for byte (TestTraceParallelEqualsSerial,
// TestLogsEqualsReference) and the "ref" side of BenchmarkFrames100k, so one
// run measures before and after.

// traceRef is Trace before: one goroutine appending row by row, each
// timestamp written by appendJSONFloat.
func traceRef(m *timeline.Model, opts Options) *data.Frame {
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
	var resourceJSON resourceCells
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
		serviceTags = append(serviceTags, resourceJSON.of(s.ResourceAttrs))
		startTimes = append(startTimes, epochMillis(s.StartNs))
		durations = append(durations, float64(s.DurationNs())/1e6)
		logCells = append(logCells, spanLogsJSONRef(s, logs))
		references = append(references, spanReferencesJSON(s.Links))
		tags = append(tags, spanTagsJSON(s))
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

// spanLogsJSONRef is spanLogsJSON before appendEpochMillis.
func spanLogsJSONRef(s *timeline.SpanNode, logs []timeline.Log) json.RawMessage {
	type entry struct {
		ms    float64
		event int // index into s.Events, or -1 for a log line
		log   int // index into logs
	}
	entries := make([]entry, 0, len(s.Events)+len(s.Logs))
	size := 2
	for i := range s.Events {
		entries = append(entries, entry{ms: epochMillis(s.Events[i].TimeNs), event: i})
		size += 64 + 48*len(s.Events[i].Attrs)
	}
	for _, idx := range s.Logs {
		if idx < 0 || idx >= len(logs) {
			continue
		}
		entries = append(entries, entry{ms: epochMillis(logs[idx].TimeNs), event: -1, log: idx})
		size += 192 + len(logs[idx].Body)
	}
	if !slices.IsSortedFunc(entries, func(a, b entry) int { return cmp.Compare(a.ms, b.ms) }) {
		slices.SortStableFunc(entries, func(a, b entry) int { return cmp.Compare(a.ms, b.ms) })
	}
	b := make([]byte, 0, size)
	b = append(b, '[')
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"timestamp":`...)
		b = appendJSONFloat(b, e.ms)
		b = append(b, `,"fields":`...)
		if e.event >= 0 {
			ev := &s.Events[e.event]
			b = appendKeyValues(b, ev.Attrs)
			if ev.Name != "" {
				b = append(b, `,"name":`...)
				b = appendJSONString(b, ev.Name)
			}
			b = append(b, '}')
			continue
		}
		l := &logs[e.log]
		b = append(b, '[')
		b = appendKeyString(b, "body", l.Body)
		b = append(b, ',')
		b = appendKeyString(b, "severity", l.Severity)
		b = append(b, ',')
		b = appendKeyString(b, "source", l.SourceList())
		if l.Service != "" && l.Service != s.Service {
			b = append(b, ',')
			b = appendKeyString(b, "service", l.Service)
		}
		if l.Attach == timeline.AttachTime {
			b = append(b, ',')
			b = appendKeyString(b, "attach", l.Attach)
		}
		b = append(b, `],"name":"`+traceLogName+`"}`...) // a constant that needs no escapes
	}
	return append(b, ']')
}

// logsRef is Logs before labelsCells: every row's labels encoded on their
// own.
func logsRef(m *timeline.Model, opts Options) *data.Frame {
	var logs []timeline.Log
	traceID := ""
	if m != nil {
		logs, traceID = m.Logs, m.TraceID
	}
	n := len(logs)
	var (
		timestamps = make([]time.Time, n)
		bodies     = make([]string, n)
		severities = make([]string, n)
		ids        = make([]string, n)
		labels     = make([]json.RawMessage, n)
		traceIDs   = make([]string, n)
		spanIDs    = make([]string, n)
		sources    = make([]string, n)
		services   = make([]string, n)
		tiers      = make([]string, n)
		attaches   = make([]string, n)
		streams    = make([]string, n)
	)
	for i := range logs {
		l := &logs[i]
		timestamps[i] = time.Unix(0, l.TimeNs).UTC()
		bodies[i] = l.Body
		severities[i] = l.Severity
		ids[i] = l.ID
		traceIDs[i] = l.TraceID
		if traceIDs[i] == "" {
			traceIDs[i] = traceID
		}
		spanIDs[i] = l.AttachedSpanID
		if spanIDs[i] == "" {
			spanIDs[i] = l.SpanID
		}
		labels[i] = logsLabelsJSONRef(l.Labels, l.TraceID, l.SpanID)
		sources[i] = l.SourceList()
		services[i] = l.Service
		tiers[i] = l.Tier
		attaches[i] = l.Attach
		streams[i] = l.Labels.Get(logsStreamLabel)
	}

	traceField := data.NewField("traceId", nil, traceIDs)
	spanField := data.NewField("spanId", nil, spanIDs)
	if opts.DatasourceUID != "" {
		traceField.SetConfig(&data.FieldConfig{Links: []data.DataLink{timelineLink(opts, linkTitleOpenTimeline)}})
		spanField.SetConfig(&data.FieldConfig{Links: []data.DataLink{spanLogsLink(opts, linkTitleSpanLogs, "traceId")}})
	}

	frame := data.NewFrame(NameLogs,
		data.NewField("timestamp", nil, timestamps),
		data.NewField("body", nil, bodies),
		data.NewField("severity", nil, severities),
		data.NewField("id", nil, ids),
		data.NewField("labels", nil, labels),
		traceField,
		spanField,
		data.NewField("source", nil, sources),
		data.NewField("service", nil, services),
		data.NewField("tier", nil, tiers),
		data.NewField("attach", nil, attaches),
	)
	if opts.LokiUID != "" {
		// The selector is the value itself: ${__value.raw} keeps its quotes
		// as Loki needs them, and the trace ID is hex, safe in a LogQL string.
		frame.Fields = append(frame.Fields, data.NewField("stream", nil, streams).SetConfig(&data.FieldConfig{Links: []data.DataLink{{
			Title: linkTitleOpenInLoki,
			Internal: &data.InternalDataLink{
				DatasourceUID: opts.LokiUID,
				Query:         map[string]any{"expr": `${__value.raw} |= "${__data.fields.traceId}"`, "queryType": "range"},
			},
		}}}))
	}
	frame.Meta = &data.FrameMeta{
		Type:                   data.FrameTypeLogLines,
		TypeVersion:            data.FrameTypeVersion{0, 0},
		PreferredVisualization: data.VisTypeLogs,
	}
	return frame
}

// logsLabelsJSONRef is logsLabelsJSON before, with a {} of its own per
// empty row.
func logsLabelsJSONRef(labels timeline.Labels, traceID, spanID string) json.RawMessage {
	size, n := 2, 0
	for _, l := range labels {
		if !redundantLabel(l, traceID, spanID) {
			size += len(l.Name) + len(l.Value) + 6
			n++
		}
	}
	if n == 0 {
		return json.RawMessage(`{}`)
	}
	b := make([]byte, 0, size)
	b = append(b, '{')
	for _, l := range labels {
		if redundantLabel(l, traceID, spanID) {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, l.Name)
		b = append(b, ':')
		b = appendJSONString(b, l.Value)
	}
	return append(b, '}')
}
