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
		labels[i] = logsLabelsJSON(l.Labels)
		traceIDs[i] = l.TraceID
		if traceIDs[i] == "" {
			traceIDs[i] = traceID
		}
		spanIDs[i] = l.AttachedSpanID
		if spanIDs[i] == "" {
			spanIDs[i] = l.SpanID
		}
		sources[i] = l.SourceList()
		services[i] = l.Service
		tiers[i] = l.Tier
		attaches[i] = l.Attach
		streams[i] = l.Labels[logsStreamLabel]
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

// logsLabelsJSON encodes a log's labels as a JSON object (keys sorted, so
// frames are deterministic), without the stream selector, which has its own
// field. No labels is {}, which the logs panel expects rather than null.
func logsLabelsJSON(labels map[string]string) json.RawMessage {
	if _, ok := labels[logsStreamLabel]; ok {
		shown := make(map[string]string, len(labels)-1)
		for k, v := range labels {
			if k != logsStreamLabel {
				shown[k] = v
			}
		}
		labels = shown
	}
	if len(labels) == 0 {
		return json.RawMessage(`{}`)
	}
	b, err := json.Marshal(labels)
	if err != nil {
		// A map of strings always marshals; keep the row rather than fail the frame.
		return json.RawMessage(`{}`)
	}
	return b
}
