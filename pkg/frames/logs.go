package frames

import (
	"encoding/json"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// logsStreamLabel is the label under which Loki records carry their stream
// selector (loki.StreamLabel; a test keeps the two equal). It becomes the
// stream field, not a label a user sees.
const logsStreamLabel = "__stream__"

// Link titles of the logs frame, shown in the logs panel's link menu
// (linkTitleOpenTimeline, shared with the other frames, is in links.go).
const (
	linkTitleSpanLogs   = "Logs of this span"
	linkTitleOpenInLoki = "Open in Loki"
)

// Logs builds the logs frame (NameLogs) from m.Logs, one row per merged log
// line in the model's time order, in the shape Grafana's logs panel reads
// (data plane "log-lines": timestamp, body, severity, id, labels) plus the
// contract's traceId, spanId and source, and service, tier and attach.
//
// spanId is the span the merge attached the log to, else the log's own span
// ID; traceId is the log's own trace ID, else the model's (every log in the
// model was found by that trace ID). Links: traceId opens this trace's
// timeline and spanId the logs of that span (both in this datasource, when
// opts.DatasourceUID is set); with opts.LokiUID set, a stream field holds the
// line's Loki stream selector (empty for lines not from Loki) and links to
// the Loki datasource for the stream's lines of the trace.
func Logs(m *timeline.Model, opts Options) *data.Frame {
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
		labels[i] = logsLabelsJSON(l.Labels, l.TraceID, l.SpanID)
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

// logsLabelsJSON encodes a log's labels as a JSON object (in name order, so
// frames are deterministic). Left out: the stream selector, which has its
// own field, and trace_id/span_id labels holding the line's own IDs, which
// the traceId and spanId fields already show (with links): at 100k lines they
// were a third of the labels cell, sent for nothing. No labels is {}, which
// the logs panel expects rather than null.
//
// Hand-encoded: json.Marshal of a map per row was the largest cost of the
// logs frame at 100k lines (BENCHMARKS.md, profile).
func logsLabelsJSON(labels timeline.Labels, traceID, spanID string) json.RawMessage {
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

// redundantLabel reports whether the logs frame leaves a label out: the
// stream selector, or a trace/span ID label equal to the line's own ID.
func redundantLabel(l timeline.Label, traceID, spanID string) bool {
	switch l.Name {
	case logsStreamLabel:
		return true
	case "trace_id", "traceid", "traceID", "traceId":
		return traceID != "" && l.Value == traceID
	case "span_id", "spanid", "spanID", "spanId":
		return spanID != "" && l.Value == spanID
	}
	return false
}
