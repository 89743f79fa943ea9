package timeline

import (
	"strings"

	"github.com/traceweave/traceweave/pkg/models"
)

// How a log was tied to a span (Log.Attach). Recorded so a user can tell a
// log that named its span from one placed by its time.
const (
	AttachSpanID = "spanId"
	AttachTime   = "time"
	AttachNone   = "none"
)

// Event kinds of the timeline frame's kind field.
const (
	EventSpan = "span"
	EventLog  = "log"
)

// Log is a log line after merging: deduplicated across sources and attached
// to a span where possible.
type Log struct {
	// LogRecord is the line as a source returned it: a pointer into the
	// Merge input for a line found once (no copy: at 100k lines copying
	// the records was a third of Merge's memory), or a copy holding the
	// merged view of a line found several times. Never modified through a
	// Log: it may be the caller's record.
	*LogRecord
	// Sources lists every source the line was found in, in input order
	// (Loki before Kafka topics), e.g. ["loki", "kafka:otlp_logs"].
	Sources []string `json:"sources"`
	// AttachedSpanID is the span the log sits in, empty when trace-level.
	AttachedSpanID string `json:"attachedSpanId,omitempty"`
	// Attach is AttachSpanID, AttachTime or AttachNone.
	Attach string `json:"attach"`
	// Tier is the tier of the attached span, or of the log's service when it has spans, else "other".
	Tier string `json:"tier"`
}

// SourceList is the contract's source cell: sources joined by ",".
func (l *Log) SourceList() string { return strings.Join(l.Sources, ",") }

// SpanNode is a span with what the merge learned about it.
type SpanNode struct {
	Span
	// Depth is 0 for roots (and orphans whose parent is missing).
	Depth int `json:"depth"`
	// Logs holds indexes into Model.Logs of the logs attached to this span, in time order.
	Logs []int `json:"logs,omitempty"`
	// Error is true when the span's status is error or one of its logs is error/critical.
	Error bool `json:"error"`
	// SelfNs is the span's duration minus the time covered by its children (see Summarize).
	SelfNs int64 `json:"selfNs"`
	// Critical marks the spans on the trace's critical path.
	Critical bool `json:"critical"`
}

// Event is one row of the merged timeline: a span start or a log line.
type Event struct {
	Kind   string `json:"kind"`
	TimeNs int64  `json:"timeNs"`
	// Index points into Model.Spans (Kind == EventSpan) or Model.Logs (EventLog).
	Index int `json:"index"`
}

// Model is the merged result the frames are built from.
type Model struct {
	TraceID string `json:"traceId"`
	// StartNs and EndNs bound the trace's spans (or its logs when there are no spans).
	StartNs int64 `json:"startNs"`
	EndNs   int64 `json:"endNs"`
	// Spans are ordered by start time (ties: parents first, then span ID).
	Spans []SpanNode `json:"spans"`
	// Logs are ordered by time, deduplicated.
	Logs []Log `json:"logs"`
	// Events interleaves span starts and logs in time order; a span start
	// sorts before logs of the same instant.
	Events []Event `json:"events"`
	// Summary answers "which tier is slow?" and "what broke first?".
	Summary *Summary `json:"summary"`
	// TierStyles order and colour the summary's tiers (Trace.TierStyles;
	// nil: the default rules').
	TierStyles []models.TierStyle `json:"-"`

	// spanIndex maps span IDs to indexes in Spans (first occurrence); Merge
	// and ForSpan set it, a hand-built model without it is searched linearly.
	spanIndex map[string]int
}
