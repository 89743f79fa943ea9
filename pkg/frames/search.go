package frames

import (
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// NameSearch is the frame of a search query.
const NameSearch = models.FrameSearch

// firstErrorTextLen bounds the firstError cell: a table cell shows one
// line, and a log line may be kilobytes of stack trace.
const firstErrorTextLen = 200

// Search builds the search frame (NameSearch, docs/DESIGN.md "Frames"):
// one row per found trace, in the order given, with its root, start,
// duration, span and error counts, tiers, log lines (all sources, then one
// field per source of sources, in that order: the columns a user compares
// to see which trace logged what where), its first error and the tier with
// the most self time. The trace ID links to that trace's timeline here, so
// a row opens the trace behind it.
func Search(found []timeline.FoundTrace, sources []string, opts Options) *data.Frame {
	n := len(found)
	var (
		traceIDs   = make([]string, n)
		roots      = make([]string, n)
		operations = make([]string, n)
		starts     = make([]time.Time, n)
		durations  = make([]float64, n)
		spanCounts = make([]int64, n)
		errorSpans = make([]int64, n)
		tiers      = make([]string, n)
		logs       = make([]int64, n)
		errTimes   = make([]*time.Time, n)
		errTiers   = make([]string, n)
		errTexts   = make([]string, n)
		slowTiers  = make([]string, n)
		slowSelf   = make([]float64, n)
		perSource  = make([][]int64, len(sources))
	)
	for j := range perSource {
		perSource[j] = make([]int64, n)
	}
	for i := range found {
		f := &found[i]
		traceIDs[i] = f.TraceID
		roots[i] = f.RootService
		operations[i] = f.RootName
		starts[i] = time.Unix(0, f.StartNs).UTC()
		durations[i] = float64(f.DurationNs) / 1e6
		spanCounts[i] = int64(f.Spans())
		errorSpans[i] = int64(f.ErrorSpans())
		tiers[i] = strings.Join(f.Tiers(), ",")
		logs[i] = int64(len(f.Model.Logs))
		if fe := f.FirstError(); fe != nil {
			t := time.Unix(0, fe.TimeNs).UTC()
			errTimes[i], errTiers[i] = &t, fe.Tier
			text := fe.Name
			if fe.Kind == timeline.EventSpan {
				text = fe.Service + " " + fe.Name
			}
			errTexts[i] = clipText(text, firstErrorTextLen)
		}
		if st := f.SlowestTier(); st != nil {
			slowTiers[i], slowSelf[i] = st.Tier, float64(st.SelfNs)/1e6
		}
		for j, src := range sources {
			perSource[j][i] = int64(f.LinesFrom(src))
		}
	}
	traceField := data.NewField("traceId", nil, traceIDs)
	setTraceLinks(traceField, opts)
	ms := func(f *data.Field) *data.Field { return f.SetConfig(&data.FieldConfig{Unit: "ms"}) }
	frame := data.NewFrame(NameSearch,
		traceField,
		data.NewField("rootService", nil, roots),
		data.NewField("rootOperation", nil, operations),
		data.NewField("start", nil, starts),
		ms(data.NewField("duration", nil, durations)),
		data.NewField("spans", nil, spanCounts),
		data.NewField("errorSpans", nil, errorSpans),
		data.NewField("tiers", nil, tiers),
		data.NewField("logs", nil, logs),
		data.NewField("firstErrorTime", nil, errTimes),
		data.NewField("firstErrorTier", nil, errTiers),
		data.NewField("firstError", nil, errTexts),
		data.NewField("slowestTier", nil, slowTiers),
		ms(data.NewField("slowestTierSelfTime", nil, slowSelf)),
	)
	for j, src := range sources {
		frame.Fields = append(frame.Fields, data.NewField(src, nil, perSource[j]))
	}
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return frame
}
