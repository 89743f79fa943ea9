package frames

import "github.com/grafana/grafana-plugin-sdk-go/data"

// Link titles shared by the frames.
const linkTitleOpenTimeline = "Trace timeline"

// timelineLink opens a trace's merged timeline in this datasource; the
// field's own value is the trace ID.
func timelineLink(opts Options, title string) data.DataLink {
	return data.DataLink{Title: title, Internal: &data.InternalDataLink{
		DatasourceUID:  opts.DatasourceUID,
		DatasourceName: opts.DatasourceName,
		Query:          map[string]any{"queryType": "timeline", "traceId": "${__value.raw}"},
	}}
}

// spanLogsLink opens the logs of one span in this datasource; the field's
// own value is the span ID and traceField names the frame's trace ID field.
func spanLogsLink(opts Options, title, traceField string) data.DataLink {
	return data.DataLink{Title: title, Internal: &data.InternalDataLink{
		DatasourceUID:  opts.DatasourceUID,
		DatasourceName: opts.DatasourceName,
		Query:          map[string]any{"queryType": "logs", "traceId": "${__data.fields." + traceField + "}", "spanId": "${__value.raw}"},
	}}
}

// tempoLink opens the trace (the field's value) in the configured Tempo datasource.
func tempoLink(opts Options, title string) data.DataLink {
	return data.DataLink{Title: title, Internal: &data.InternalDataLink{
		DatasourceUID: opts.TempoUID,
		Query:         map[string]any{"queryType": "traceql", "query": "${__value.raw}"},
	}}
}

// setTraceLinks gives a trace ID field its links: the trace's timeline in
// this datasource and, with tempo.datasourceUid, the trace in Tempo. Links
// need a target: without this datasource's uid (a frame built outside a
// query) only the Tempo link can work.
func setTraceLinks(f *data.Field, opts Options) {
	var links []data.DataLink
	if opts.DatasourceUID != "" {
		links = append(links, timelineLink(opts, linkTitleOpenTimeline))
	}
	if opts.TempoUID != "" {
		links = append(links, tempoLink(opts, linkTitleOpenInTempo))
	}
	if len(links) > 0 {
		f.SetConfig(&data.FieldConfig{Links: links})
	}
}
