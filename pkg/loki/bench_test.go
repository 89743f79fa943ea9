package loki

import (
	"bytes"
	"fmt"
	"testing"
)

// benchPage is a 5000-line categorize-labels page shaped like the recorded
// fixtures: six streams; OTLP lines with nine structured metadata labels and
// pushed logfmt lines with three.
func benchPage() []byte {
	streams := []map[string]string{
		{"service_name": "go-proxy", "env": "prod", "job": "fixture/push"},
		{"service_name": "go-api", "env": "prod", "job": "fixture/push"},
		{"service_name": "rails-api", "env": "prod", "job": "fixture/push"},
		{"service_name": "rails-api", "deployment_environment": "prod", "service_namespace": "shop"},
		{"service_name": "go-api", "deployment_environment": "prod", "service_namespace": "shop"},
		{"service_name": "mysql", "deployment_environment": "prod", "service_namespace": "db"},
	}
	lines := make([]fakeLine, 5000)
	for i := range lines {
		span := fmt.Sprintf("00f067aa0ba9%04x", i%4096)
		l := fakeLine{stream: streams[i%len(streams)], ts: pageBase + int64(i)*1000}
		if i%2 == 0 {
			l.line = fmt.Sprintf(`level=info msg="GET /api/orders/%d" service=go-api trace_id=%s span_id=%s duration_ms=%d`, i, fixtureTraceID, span, i%300)
			l.sm = map[string]string{"detected_level": "info", "trace_id": fixtureTraceID, "span_id": span}
		} else {
			l.line = fmt.Sprintf("otlp: SELECT orders completed in %dms", i%300)
			l.sm = map[string]string{
				"code_function": "SELECT orders", "detected_level": "info", "http_route": "/orders",
				"observed_timestamp": "1795710094284890717", "scope_name": "fixture-generator",
				"severity_number": "9", "severity_text": "INFO", "span_id": span, "trace_id": fixtureTraceID,
			}
		}
		lines[i] = l
	}
	return categorizedResponse(lines)
}

// BenchmarkDecodeLokiResponse measures decoding one full query_range page
// (5000 lines) into records, including severity, IDs and labels.
func BenchmarkDecodeLokiResponse(b *testing.B) {
	body := benchPage()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		entries, err := decodeResponse(bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		n += len(entries)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
