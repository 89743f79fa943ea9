package timeline

import "slices"

// FoundTrace is one trace a search found, with its merged spans and logs:
// a row of the search frame (docs/DESIGN.md, "Search"). The figures of the
// row are methods, so the plugin's frame and the CLI's table read them from
// one place.
type FoundTrace struct {
	// TraceID is normalised (32 lower-case hex digits).
	TraceID string
	// RootService and RootName are Tempo's search answer's root span.
	RootService, RootName string
	// StartNs and DurationNs are the search answer's; the trace's own
	// spans, when fetched, give Model.StartNs/EndNs.
	StartNs, DurationNs int64
	// SearchSpans and SearchErrors are the span and error-span counts of
	// the search answer (its per-service statistics), used when the trace
	// itself could not be fetched.
	SearchSpans, SearchErrors int
	// Model is the merge of the trace and its logs; never nil (an empty
	// model when nothing was found beyond the search answer).
	Model *Model
}

// Spans counts the trace's spans: the fetched trace's, else the search's.
func (f *FoundTrace) Spans() int {
	if len(f.Model.Spans) > 0 {
		return len(f.Model.Spans)
	}
	return f.SearchSpans
}

// ErrorSpans counts the spans with status error, as Spans chooses its source.
func (f *FoundTrace) ErrorSpans() int {
	if len(f.Model.Spans) == 0 {
		return f.SearchErrors
	}
	n := 0
	for i := range f.Model.Spans {
		if f.Model.Spans[i].StatusCode == StatusError {
			n++
		}
	}
	return n
}

// Tiers lists the tiers the trace's spans touch, in summary order.
func (f *FoundTrace) Tiers() []string {
	var out []string
	if s := f.Model.Summary; s != nil {
		for _, t := range s.Tiers {
			if t.Spans > 0 {
				out = append(out, t.Tier)
			}
		}
	}
	return out
}

// LinesFrom counts the trace's log lines found in source ("loki",
// "kafka:<topic>"); a line found in two sources counts for each.
func (f *FoundTrace) LinesFrom(source string) int {
	n := 0
	for i := range f.Model.Logs {
		if slices.Contains(f.Model.Logs[i].Sources, source) {
			n++
		}
	}
	return n
}

// FirstError is the trace's first error, span or log, nil when nothing failed.
func (f *FoundTrace) FirstError() *ErrorEvent {
	if f.Model.Summary == nil {
		return nil
	}
	return f.Model.Summary.FirstError
}

// SlowestTier is the tier with the most self time (the first in summary
// order on a tie), nil without spans.
func (f *FoundTrace) SlowestTier() *TierStat {
	var best *TierStat
	if s := f.Model.Summary; s != nil {
		for i := range s.Tiers {
			if t := &s.Tiers[i]; t.Spans > 0 && (best == nil || t.SelfNs > best.SelfNs) {
				best = t
			}
		}
	}
	return best
}
