package loki

import (
	"strconv"
	"strings"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// lineMatchLabel is the helper label Grafana's trace-to-logs query adds to
// every line it scans; it is dropped from the records because it says nothing
// about the line beyond "it matched".
const lineMatchLabel = "log_line_contains_trace_id"

// BuildQueries returns the LogQL expressions that find the log lines of one
// trace under selector, for a trace filter mode of models.TraceFilter*:
//
//   - structured: `<selector> | trace_id="<id>"`, the structured metadata
//     OTLP ingestion writes (docs/DESIGN.md, "Upstream facts");
//   - line: `<selector> |= "<id>"`, for lines that carry the ID only in their
//     text (push API, files);
//   - auto: either. LogQL cannot `or` a line filter with a label filter, so
//     this uses the expression Grafana's own trace-to-logs link builds
//     (public/app/features/explore/TraceView/createSpanLink.tsx, Grafana 11+):
//     `| label_format` turns "the line contains the ID" into a label, which
//     a label filter can then `or` with trace_id. One expression keeps
//     pagination exact and costs one round trip instead of two.
//
// It is exported so tests and tooling can show the LogQL a query sends. The
// trace ID is normalised again here (32 lower-case hex digits) because it is
// embedded in LogQL: anything else returns nil, as does an unknown filter.
// A slice, not a string, because a filter may one day need several
// expressions; Client.Query unions their results.
func BuildQueries(selector, filter, traceID string) []string {
	id, err := models.NormalizeTraceID(traceID)
	if err != nil {
		return nil
	}
	sel := strings.TrimSpace(selector)
	if sel == "" {
		sel = models.DefaultLokiSelector
	}
	// id is hex only, so quoting it needs no escaping.
	switch filter {
	case models.TraceFilterStructured:
		return []string{sel + ` | trace_id="` + id + `"`}
	case models.TraceFilterLine:
		return []string{sel + ` |= "` + id + `"`}
	case models.TraceFilterAuto, "":
		return []string{sel + " | label_format " + lineMatchLabel + "=`{{ contains \"" + id + "\" __line__ }}`" +
			" | " + lineMatchLabel + `="true" or trace_id="` + id + `"`}
	}
	return nil
}

// streamSelector writes sorted labels as a LogQL stream selector, values
// quoted the way Loki's lexer unquotes them (Go string syntax), so any value,
// including quotes, backslashes and newlines, round-trips.
func streamSelector(labels []timeline.Label) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range labels {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l.Value))
	}
	b.WriteByte('}')
	return b.String()
}
