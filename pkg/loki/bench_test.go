package loki

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
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

// BenchmarkBatchFilterPerLine measures what a batch filter costs a Loki per
// scanned line as its IDs grow (the figures maxBatchIDs cites), on a
// 200-byte line naming none of them, as the fake Loki evaluates it: auto's
// template through text/template, with the label map Loki hands it; the
// line filter through Go's regexp, which Loki runs when it cannot turn the
// alternation into substring searches.
func BenchmarkBatchFilterPerLine(b *testing.B) {
	line := fakeLine{stream: map[string]string{"service_name": "go-api"}, sm: map[string]string{"severity_text": "INFO"},
		line: `level=info msg="GET /api/orders/123" service=go-api span_id=00f067aa0ba90201 duration_ms=12 user=alice region=eu-west-1 ` + strings.Repeat("x", 60)}
	for _, filter := range []string{models.TraceFilterAuto, models.TraceFilterLine} {
		for _, n := range []int{1, 10, maxBatchIDs} {
			match, err := parseTraceFilter(BuildBatchQueries(models.DefaultLokiSelector, filter, batchIDs(n))[0])
			require.NoError(b, err)
			b.Run(fmt.Sprintf("%s/ids=%d", filter, n), func(b *testing.B) {
				for b.Loop() {
					if match(line) {
						b.Fatal("matched a line naming none of the IDs")
					}
				}
			})
		}
	}
}

// BenchmarkQueryTraces reads the lines of 20 traces × 1000 lines,
// interleaved in one group, through QueryTraces, and the same traces one
// trace query each, against a Loki evaluating the filters (its answers for
// each query are computed once, outside the timing).
func BenchmarkQueryTraces(b *testing.B) {
	ids := batchIDs(20)
	lines := batchLines(ids, 20*1000, pageBase)
	group := timeline.WindowGroup{StartNs: pageBase, EndNs: pageBase + int64(len(lines))*1000, TraceIDs: ids}
	f := &fakeLoki{eval: &filterEval{all: lines}}
	srv := startFake(b, f)
	c := newTestClient(b, srv.URL, func(s *models.LokiSettings) {
		s.MaxLines = models.DefaultLokiMaxLines
		s.ParallelQueries = models.DefaultLokiParallelQueries
	})
	batch := func() (int, error) {
		res, err := c.QueryTraces(context.Background(), []timeline.WindowGroup{group})
		if err != nil {
			return 0, err
		}
		return len(res.Records), nil
	}
	perTrace := func() (int, error) {
		n := 0
		for _, id := range ids {
			res, err := c.Query(context.Background(), id, group.StartNs, group.EndNs)
			if err != nil {
				return 0, err
			}
			n += len(res.Records)
		}
		return n, nil
	}
	for _, run := range []struct {
		name string
		read func() (int, error)
	}{{"batch", batch}, {"per trace", perTrace}} {
		if n, err := run.read(); err != nil || n == 0 { // fills the fake's answers
			b.Fatalf("warm-up: %d lines, %v", n, err)
		}
		b.Run(run.name, func(b *testing.B) {
			f.log = requestLog{}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				got, err := run.read()
				if err != nil {
					b.Fatal(err)
				}
				n += got
			}
			b.ReportMetric(float64(len(f.log.all()))/float64(b.N), "requests/op")
			b.ReportMetric(float64(n)/float64(b.N), "lines/op")
		})
	}
}
