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
// expressions; Client.Query unions their results. It is BuildBatchQueries
// of one ID.
func BuildQueries(selector, filter, traceID string) []string {
	return BuildBatchQueries(selector, filter, []string{traceID})
}

// knownFilter reports whether filter is a trace filter mode filterExpr
// builds ("" is auto, the default).
func knownFilter(filter string) bool {
	switch filter {
	case models.TraceFilterStructured, models.TraceFilterLine, models.TraceFilterAuto, "":
		return true
	}
	return false
}

// filterExpr is the expression of filter (knownFilter) for ids, normalised
// trace IDs: with one ID BuildQueries' forms, with several the same forms
// matching any of them (see BuildBatchQueries). The IDs are hex only, so
// quoting them, in a string or a regular expression, needs no escaping.
func filterExpr(sel, filter string, ids []string) string {
	var b strings.Builder
	b.Grow(len(sel) + 96*len(ids) + 128)
	b.WriteString(sel)
	switch filter {
	case models.TraceFilterStructured:
		b.WriteString(" | ")
		writeTraceIDMatcher(&b, ids)
	case models.TraceFilterLine:
		if len(ids) == 1 {
			b.WriteString(` |= "` + ids[0] + `"`)
		} else {
			b.WriteString(` |~ "` + strings.Join(ids, "|") + `"`)
		}
	default: // auto
		b.WriteString(" | label_format " + lineMatchLabel + "=`{{ ")
		if len(ids) == 1 {
			b.WriteString(`contains "` + ids[0] + `" __line__`)
		} else {
			// Loki's contains is sprig's (contains substr s), a bool, and
			// text/template's or returns its first true argument, else its
			// last: "true" exactly when the line contains one of the IDs.
			b.WriteString("or")
			for _, id := range ids {
				b.WriteString(` (contains "` + id + `" __line__)`)
			}
		}
		b.WriteString(" }}` | " + lineMatchLabel + `="true" or `)
		writeTraceIDMatcher(&b, ids)
	}
	return b.String()
}

// writeTraceIDMatcher writes the label matcher of trace_id for ids: an
// equality for one, a regular expression for several (label matchers are
// anchored: the value must be one of the IDs, as with the equality).
func writeTraceIDMatcher(b *strings.Builder, ids []string) {
	if len(ids) == 1 {
		b.WriteString(`trace_id="` + ids[0] + `"`)
		return
	}
	b.WriteString(`trace_id=~"` + strings.Join(ids, "|") + `"`)
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
