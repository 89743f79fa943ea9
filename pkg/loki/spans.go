package loki

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/traceweave/traceweave/internal/spans"
)

// startPageSpan starts the span of one query_range request. Its attributes
// are the request's range and limit, never the query's credentials (they
// are headers, and the SDK's HTTP span under it records no headers).
func startPageSpan(ctx context.Context, start, end int64, limit int) (context.Context, trace.Span) {
	return spans.Start(ctx, "traceweave.loki.query_range",
		spans.LokiStart.Int64(start), spans.LokiEnd.Int64(end), spans.LokiLimit.Int(limit))
}

// endPageSpan ends a query_range span with the lines it read or its error.
func endPageSpan(ctx context.Context, span trace.Span, lines int, err error) {
	if err != nil {
		spans.Fail(ctx, span, err)
	} else {
		span.SetAttributes(spans.LokiLines.Int(lines))
	}
	span.End()
}
