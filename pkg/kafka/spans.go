package kafka

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/traceweave/traceweave/internal/spans"
)

// traceTopics starts one span per topic of res and returns the function
// that ends them with each topic's outcome. The topics of a Read are
// searched together (one budget, one fetch loop), so each span covers the
// whole Read; per-record spans would cost more than the scan itself.
func traceTopics(ctx context.Context, res *Result) (end func()) {
	ss := make([]trace.Span, len(res.Topics))
	for i, t := range res.Topics {
		_, ss[i] = spans.Start(ctx, "traceweave.kafka.topic",
			spans.MessagingSystem.String("kafka"), spans.MessagingTopic.String(t.Topic))
	}
	return func() {
		for i, span := range ss {
			t := &res.Topics[i]
			span.SetAttributes(spans.KafkaPartitions.Int(int(t.Partitions)), spans.KafkaPartsRead.Int(t.PartitionsRead),
				spans.KafkaScanned.Int64(t.Scanned), spans.KafkaMatched.Int(len(t.Records)))
			spans.Fail(ctx, span, t.Err)
			span.End()
		}
	}
}
