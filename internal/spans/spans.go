// Package spans is how Traceweave records its own work as OpenTelemetry
// spans: through the plugin SDK's tracing.DefaultTracer(), which Grafana
// configures for the plugin, so the query's fan-out to Tempo, Loki and Kafka
// shows in the trace of the Grafana request (docs/DESIGN.md, "Tracing").
//
// An error recorded on a span is scrubbed of the datasource's secrets by
// the redactor the engine puts in the run's context (WithRedactor): an
// upstream may echo credentials back in an error body, and spans leave the
// plugin like logs do.
package spans

import (
	"context"
	"errors"

	"github.com/grafana/grafana-plugin-sdk-go/backend/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/traceweave/traceweave/internal/safetext"
	"github.com/traceweave/traceweave/internal/upstream"
)

// Attribute keys of Traceweave's spans. OpenTelemetry semantic conventions
// are used where one fits (messaging.* for Kafka topics).
const (
	TraceID          = attribute.Key("traceweave.trace_id")
	Run              = attribute.Key("traceweave.run")
	RefID            = attribute.Key("traceweave.ref_id")
	QueryType        = attribute.Key("traceweave.query_type")
	Sources          = attribute.Key("traceweave.sources")
	WindowStart      = attribute.Key("traceweave.window.start")
	WindowEnd        = attribute.Key("traceweave.window.end")
	TraceFound       = attribute.Key("traceweave.tempo.found")
	TempoSpans       = attribute.Key("traceweave.tempo.spans")
	TempoPartial     = attribute.Key("traceweave.tempo.partial")
	LokiStart        = attribute.Key("traceweave.loki.start")
	LokiEnd          = attribute.Key("traceweave.loki.end")
	LokiLimit        = attribute.Key("traceweave.loki.limit")
	LokiLines        = attribute.Key("traceweave.loki.lines")
	KafkaPartitions  = attribute.Key("traceweave.kafka.partitions")
	KafkaPartsRead   = attribute.Key("traceweave.kafka.partitions_read")
	KafkaScanned     = attribute.Key("traceweave.kafka.records_scanned")
	KafkaMatched     = attribute.Key("traceweave.kafka.records_matched")
	MergeLogs        = attribute.Key("traceweave.merge.logs")
	MergeSpans       = attribute.Key("traceweave.merge.spans")
	Frame            = attribute.Key("traceweave.frame")
	FrameRows        = attribute.Key("traceweave.frame.rows")
	MessagingSystem  = attribute.Key("messaging.system")
	MessagingTopic   = attribute.Key("messaging.destination.name")
	ErrorType        = attribute.Key("error.type")
	exceptionMessage = attribute.Key("exception.message")
)

// Start starts a span of Traceweave's through the SDK's default tracer.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return tracing.DefaultTracer().Start(ctx, name, trace.WithAttributes(attrs...))
}

type redactorKey struct{}

// WithRedactor returns ctx carrying r, the scrubber Fail applies to the
// errors it records on spans started under ctx.
func WithRedactor(ctx context.Context, r *safetext.Redactor) context.Context {
	return context.WithValue(ctx, redactorKey{}, r)
}

// Fail marks span as failed with err's scrubbed message, as its status and
// as an exception event. Without a redactor in ctx the message is only the
// failure's category: an unscrubbed upstream text must not leave the plugin.
func Fail(ctx context.Context, span trace.Span, err error) {
	if err == nil {
		return
	}
	msg := "failed"
	var ue *upstream.Error
	if errors.As(err, &ue) && ue.Kind != nil {
		msg = ue.Kind.Error()
		span.SetAttributes(ErrorType.String(ue.Kind.Error()))
	}
	if r, ok := ctx.Value(redactorKey{}).(*safetext.Redactor); ok && r != nil {
		msg = r.Text(err.Error())
	}
	span.SetStatus(codes.Error, msg)
	span.AddEvent("exception", trace.WithAttributes(exceptionMessage.String(msg)))
}
