package timeline

import (
	"cmp"
	"slices"
)

// TraceWindow is one trace's log window: the trace's extent padded by
// window.before and window.after, [StartNs, EndNs) in Unix ns. A search
// query fetches the logs of many traces at once (docs/DESIGN.md, "Search")
// and each upstream gets the traces as a list of these.
type TraceWindow struct {
	// TraceID is normalised: 32 lower-case hex digits
	// (models.NormalizeTraceID); callers validate it before building one.
	TraceID        string
	StartNs, EndNs int64
}

// WindowGroup is a time range covering the windows of some traces: one
// upstream pass (a Loki query, a Kafka offset range) serves all of them.
type WindowGroup struct {
	StartNs, EndNs int64
	// TraceIDs are the traces whose windows the group covers, in the order
	// their windows start, each once.
	TraceIDs []string
}

// GroupWindows joins trace windows into as few groups as keep each
// upstream's scanned range close to the windows themselves: windows are
// taken in start order and one joins the current group when it starts at
// most maxGapNs after the group's end, so a group scans at most maxGapNs of
// time between two windows that no trace needs. maxGapNs 0 joins only
// overlapping or touching windows; a negative one joins everything into one
// group (the hull). Windows with EndNs <= StartNs are left out. The same
// trace may appear with several windows; it is listed once per group.
//
// Pure: the engine calls it once and both Loki and Kafka read the same
// groups.
func GroupWindows(ws []TraceWindow, maxGapNs int64) []WindowGroup {
	sorted := make([]TraceWindow, 0, len(ws))
	for _, w := range ws {
		if w.EndNs > w.StartNs {
			sorted = append(sorted, w)
		}
	}
	slices.SortStableFunc(sorted, func(a, b TraceWindow) int {
		return cmp.Or(cmp.Compare(a.StartNs, b.StartNs), cmp.Compare(a.EndNs, b.EndNs))
	})
	var out []WindowGroup
	for _, w := range sorted {
		if n := len(out); n > 0 && (maxGapNs < 0 || w.StartNs-out[n-1].EndNs <= maxGapNs) {
			g := &out[n-1]
			g.EndNs = max(g.EndNs, w.EndNs)
			if !slices.Contains(g.TraceIDs, w.TraceID) {
				g.TraceIDs = append(g.TraceIDs, w.TraceID)
			}
			continue
		}
		out = append(out, WindowGroup{StartNs: w.StartNs, EndNs: w.EndNs, TraceIDs: []string{w.TraceID}})
	}
	return out
}
