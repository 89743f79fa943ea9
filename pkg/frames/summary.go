package frames

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// Summary builds the summary frame (NameSummary) from m.Summary (which
// Merge fills in): one row per tier present in the trace, under the user's
// tier names, in summary order (configured order, then first appearance,
// see timeline.Summarize), with its services (comma-joined), span count,
// self time (ms), share of the trace's wall time (0–1), errors, logs and the
// tier's configured colour. The color field is null where no colour is set:
// Grafana's "Rows to fields" and "Config from query results"
// transformations map a column named color to the fixed colour of the field
// made from that row, so a bar gauge can draw each tier in its colour
// (docs/DESIGN.md, "Frames"), and skip null cells. Notices name the first error and the slowest span,
// the two answers an on-call engineer reads first.
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
		colors   = make([]*string, n)
	)
	for i, r := range rows {
		tiers[i] = r.Tier
		services[i] = strings.Join(r.Services, ",")
		spans[i] = int64(r.Spans)
		selfTime[i] = float64(r.SelfNs) / 1e6
		share[i] = r.Share
		errs[i] = int64(r.Errors)
		logs[i] = int64(r.Logs)
		if r.Color != "" {
			colors[i] = &r.Color
		}
	}
	frame := data.NewFrame(NameSummary,
		data.NewField("tier", nil, tiers),
		data.NewField("services", nil, services),
		data.NewField("spans", nil, spans),
		data.NewField("selfTime", nil, selfTime).SetConfig(&data.FieldConfig{Unit: "ms"}),
		data.NewField("share", nil, share).SetConfig(&data.FieldConfig{Unit: "percentunit"}),
		data.NewField("errors", nil, errs),
		data.NewField("logs", nil, logs),
		data.NewField("color", nil, colors),
	)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	if m.Summary == nil {
		return frame
	}
	if fe := m.Summary.FirstError; fe != nil {
		// The notice itself is on the timeline frame; one notice per fact.
		frame.Meta.Custom = map[string]any{"firstError": FirstErrorText(fe)}
	}
	if sl := m.Summary.Slowest; sl != nil {
		text := fmt.Sprintf("slowest span: %s %s, %s ms self time", sl.Service, clipText(sl.Name, 120), formatMs(sl.SelfNs))
		if m.Summary.WallNs > 0 {
			text += fmt.Sprintf(" (%.0f%% of the trace)", 100*float64(sl.SelfNs)/float64(m.Summary.WallNs))
		}
		frame.Meta.Notices = append(frame.Meta.Notices, data.Notice{Severity: data.NoticeSeverityInfo, Text: text})
	}
	return frame
}
