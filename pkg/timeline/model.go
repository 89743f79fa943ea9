// Package timeline is the pure core of Traceweave: it takes the spans of one
// trace and log records from any number of sources and merges them into one
// time-ordered model. It performs no I/O, so every rule here is unit-testable
// and benchmarkable without upstreams.
//
// The upstream packages (tempo, loki, kafka) return the input types of this
// file; the frames package turns the merged Model into Grafana data frames.
package timeline

import "github.com/traceweave/traceweave/pkg/models"

// Tier names are the user's (models.TierRule.Tier). These are the tiers of
// the reference architecture that models.DefaultTierRules assign, and
// TierOther, the tier of spans no rule matches.
const (
	TierProxy = "proxy"
	TierGo    = "go"
	TierRails = "rails"
	TierMySQL = "mysql"
	TierRedis = "redis"
	TierOther = models.TierOther
)

// Span kinds, lower-case as Grafana's trace view expects them.
const (
	KindUnspecified = "unspecified"
	KindInternal    = "internal"
	KindServer      = "server"
	KindClient      = "client"
	KindProducer    = "producer"
	KindConsumer    = "consumer"
)

// OTLP status codes, kept as numbers because the trace frame's statusCode
// field carries them verbatim (0 unset, 1 ok, 2 error).
const (
	StatusUnset int64 = 0
	StatusOK    int64 = 1
	StatusError int64 = 2
)

// SourceTempo and SourceLoki name where an event was found; Kafka sources are
// "kafka:<topic>" (see KafkaSource).
const (
	SourceTempo = "tempo"
	SourceLoki  = "loki"
)

// KafkaSource returns the source name of a Kafka topic, "kafka:<topic>".
func KafkaSource(topic string) string { return "kafka:" + topic }

// KeyValue is one attribute. Value holds a JSON-encodable Go value: string,
// bool, int64, float64, []any or map[string]any (OTLP AnyValue mapped to Go).
type KeyValue struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// SpanEvent is an OTLP span event (for example an exception or cache.miss).
type SpanEvent struct {
	TimeNs int64      `json:"timeNs"`
	Name   string     `json:"name"`
	Attrs  []KeyValue `json:"attributes,omitempty"`
}

// SpanLink is an OTLP link from a span to another span, possibly of another trace.
type SpanLink struct {
	TraceID string     `json:"traceId"`
	SpanID  string     `json:"spanId"`
	Attrs   []KeyValue `json:"attributes,omitempty"`
}

// Span is one span of a trace as the upstream reported it, with IDs as
// lower-case hex so they compare equal to the IDs found in log lines.
type Span struct {
	TraceID          string      `json:"traceId"`
	SpanID           string      `json:"spanId"`
	ParentSpanID     string      `json:"parentSpanId,omitempty"`
	Name             string      `json:"name"`
	Service          string      `json:"service"`
	ServiceNamespace string      `json:"serviceNamespace,omitempty"`
	Kind             string      `json:"kind"`
	StatusCode       int64       `json:"statusCode"`
	StatusMessage    string      `json:"statusMessage,omitempty"`
	StartNs          int64       `json:"startNs"`
	EndNs            int64       `json:"endNs"`
	ResourceAttrs    []KeyValue  `json:"resourceAttributes,omitempty"`
	Attrs            []KeyValue  `json:"attributes,omitempty"`
	Events           []SpanEvent `json:"events,omitempty"`
	Links            []SpanLink  `json:"links,omitempty"`
	ScopeName        string      `json:"scopeName,omitempty"`
	ScopeVersion     string      `json:"scopeVersion,omitempty"`
	TraceState       string      `json:"traceState,omitempty"`
	// Tier is assigned by the tier rules (see models.TierRule) when the trace is decoded.
	Tier string `json:"tier"`
}

// DurationNs is the span's duration; negative durations (broken clocks) count as 0.
func (s *Span) DurationNs() int64 {
	if s.EndNs < s.StartNs {
		return 0
	}
	return s.EndNs - s.StartNs
}

// Trace is a decoded trace: all its spans, in upstream order.
type Trace struct {
	TraceID string `json:"traceId"`
	Spans   []Span `json:"spans"`
	// TierStyles are the configured tiers' order and colours
	// (models.TierStyles of the rules AssignTiers ran), which Merge hands to
	// Summarize; nil means the default rules'.
	TierStyles []models.TierStyle `json:"-"`
}

// LogRecord is one log line found by an upstream. IDs are lower-case hex or empty.
type LogRecord struct {
	// TimeNs is the log's own time (not the Kafka export time).
	TimeNs int64  `json:"timeNs"`
	Body   string `json:"body"`
	// Severity is normalised with NormalizeSeverity (debug, info, warn, error, critical, trace or unknown).
	Severity string `json:"severity"`
	TraceID  string `json:"traceId,omitempty"`
	SpanID   string `json:"spanId,omitempty"`
	Service  string `json:"service,omitempty"`
	// Labels holds stream labels, structured metadata and attributes,
	// flattened to strings (shared between records: never modify in place).
	Labels Labels `json:"labels,omitempty"`
	// Source is "loki" or "kafka:<topic>".
	Source string `json:"source"`
	// ID identifies the line within its source (Loki stream+ts+index, Kafka topic/partition/offset/index).
	ID string `json:"id,omitempty"`
}
