package frames

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// benchServices are the five tiers of the reference architecture.
var (
	benchServices = []string{"go-proxy", "go-api", "rails-api", "mysql", "redis"}
	benchTiers    = []string{timeline.TierProxy, timeline.TierGo, timeline.TierRails, timeline.TierMySQL, timeline.TierRedis}
)

// benchModel merges a generated trace of nSpans spans over five services
// with nLogs log lines in the shape of test/bench's world: half from Loki,
// the rest split over three Kafka topics (OTLP records with resource and
// record attributes, JSON lines with their leftover fields, raw lines
// without labels). Line i belongs to span i%nSpans, so every span gets
// about the same number of lines; errorEvery > 0 gives every errorEvery-th
// span an exception event and an error line.
//
// With lokiMetadata, each Loki line carries structured metadata as OTLP
// ingestion writes it (detected_level, observed_timestamp, scope_name,
// severity_text, span_id, trace_id) and so its own label slice, distinct from
// every other line's (observed_timestamp); without, the lines of a stream
// share the stream's slice, as Loki's decoder gives lines without metadata.
func benchModel(nSpans, nLogs int, lokiMetadata bool) *timeline.Model {
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const t0 = int64(1_795_710_089_284_890_718)
	spanID := func(i int) string { return fmt.Sprintf("%016x", 0x00f067aa0ba90000+i) }
	tr := &timeline.Trace{TraceID: traceID}
	resources := make([][]timeline.KeyValue, len(benchServices))
	streams := make([]timeline.Labels, len(benchServices))
	for i, svc := range benchServices {
		resources[i] = []timeline.KeyValue{{Key: "deployment.environment", Value: "bench"}, {Key: "host.name", Value: "web-1"}, {Key: "service.name", Value: svc}}
		streams[i] = timeline.NewLabels([]timeline.Label{{Name: "deployment_environment", Value: "bench"}, {Name: "service_name", Value: svc},
			{Name: "service_namespace", Value: "shop"}, {Name: logsStreamLabel, Value: `{deployment_environment="bench", service_name="` + svc + `", service_namespace="shop"}`}})
	}
	// Spans of 2 ms to 50 ms, a new one every 100 µs, each the child of
	// the span four before it.
	start := func(i int) int64 { return t0 + int64(i)*100_000 + int64(i%7)*13_579 }
	for i := 0; i < nSpans; i++ {
		parent := ""
		if i > 0 {
			parent = spanID((i - 1) / 4)
		}
		s := timeline.Span{TraceID: traceID, SpanID: spanID(i), ParentSpanID: parent, Name: "GET /api/orders",
			Service: benchServices[i%5], Kind: timeline.KindServer, StartNs: start(i), EndNs: start(i) + int64(2+i%49)*1_000_000,
			ResourceAttrs: resources[i%5], ScopeName: "traceweave-bench",
			Attrs: []timeline.KeyValue{{Key: "http.route", Value: "/api/orders"}, {Key: "http.response.status_code", Value: int64(200)}}}
		s.Tier = benchTiers[i%5]
		if errorEvery := 97; i%errorEvery == 13 {
			s.StatusCode = timeline.StatusError
			s.Events = []timeline.SpanEvent{{TimeNs: s.StartNs + 1_234_567, Name: "exception",
				Attrs: []timeline.KeyValue{{Key: "exception.message", Value: "redis: connection reset by peer"}, {Key: "exception.type", Value: "IOError"}}}}
		}
		tr.Spans = append(tr.Spans, s)
	}
	var loki, otlp, audit, syslog []timeline.LogRecord
	for i := 0; i < nLogs; i++ {
		sp := i % nSpans
		svc := sp % 5
		s := &tr.Spans[sp]
		at := s.StartNs + int64(i/nSpans)*10_007 + 250_000 // inside the span, µs apart
		level := "info"
		if i%53 == 7 {
			level = "error"
		}
		body := "GET /api/orders step " + strconv.Itoa(i/nSpans) + " handled in 8ms user=" + strconv.Itoa(1000+i%97) + " cache=miss"
		r := timeline.LogRecord{TimeNs: at, Severity: level, TraceID: traceID, SpanID: s.SpanID, Service: benchServices[svc]}
		switch {
		case i%2 == 0:
			r.Body = "level=" + level + ` msg="` + body + `" service=` + benchServices[svc]
			r.Source = timeline.SourceLoki
			r.ID = strconv.FormatInt(at, 10) + "_" + strconv.Itoa(svc)
			r.Labels = streams[svc]
			if lokiMetadata {
				own := append([]timeline.Label(nil), streams[svc]...)
				own = append(own, timeline.Label{Name: "detected_level", Value: level}, timeline.Label{Name: "observed_timestamp", Value: strconv.FormatInt(at+800_000_000, 10)},
					timeline.Label{Name: "scope_name", Value: "traceweave-bench"}, timeline.Label{Name: "severity_text", Value: level},
					timeline.Label{Name: "span_id", Value: s.SpanID}, timeline.Label{Name: "trace_id", Value: traceID})
				r.Labels = timeline.NewLabels(own)
			}
			loki = append(loki, r)
		case (i/2)%3 == 0:
			r.Body = body
			r.Source = timeline.KafkaSource("otlp_logs")
			r.ID = "otlp_logs/3/" + strconv.Itoa(i)
			r.Labels = timeline.NewLabels([]timeline.Label{{Name: "service.name", Value: benchServices[svc]}, {Name: "deployment.environment", Value: "bench"},
				{Name: "host.name", Value: "web-1"}, {Name: "http.route", Value: "/api/orders"}, {Name: "code.function", Value: "OrdersController#index"}})
			otlp = append(otlp, r)
		case (i/2)%3 == 1:
			r.Body = body
			r.Source = timeline.KafkaSource("audit")
			r.ID = "audit/1/" + strconv.Itoa(i)
			r.Labels = timeline.NewLabels([]timeline.Label{{Name: "user.id", Value: "42"}, {Name: "user.role", Value: "customer"},
				{Name: "http.method", Value: "GET"}, {Name: "http.status", Value: "200"}})
			audit = append(audit, r)
		default:
			r.Body = "2026-11-14T09:00:00.123456Z web-1 " + benchServices[svc] + "[812]: " + level + " " + body + " trace_id=" + traceID
			r.Source = timeline.KafkaSource("syslog")
			r.ID = "syslog/0/" + strconv.Itoa(i)
			r.SpanID, r.Severity = "", timeline.SeverityUnknown
			syslog = append(syslog, r)
		}
	}
	return timeline.Merge(tr, loki, otlp, audit, syslog)
}

// buildFourFrames is pkg/plugin buildFrames' concurrent build, one
// goroutine a frame, with the given trace and logs builders.
func buildFourFrames(m *timeline.Model, opts Options, trace, logs func(*timeline.Model, Options) *data.Frame) []*data.Frame {
	fs := make([]*data.Frame, 4)
	var wg sync.WaitGroup
	for i, build := range []func() *data.Frame{
		func() *data.Frame { return trace(m, opts) },
		func() *data.Frame { return logs(m, opts) },
		func() *data.Frame { return Timeline(m, opts) },
		func() *data.Frame { return Summary(m) },
	} {
		wg.Go(func() { fs[i] = build() })
	}
	wg.Wait()
	return fs
}

// benchModels caches the generated models: merging 100k lines takes longer
// than building a frame, and every sub-benchmark reads the same model.
var benchModels sync.Map // key string → *timeline.Model

func cachedBenchModel(nSpans, nLogs int, lokiMetadata bool) *timeline.Model {
	key := fmt.Sprint(nSpans, nLogs, lokiMetadata)
	if m, ok := benchModels.Load(key); ok {
		return m.(*timeline.Model)
	}
	m := benchModel(nSpans, nLogs, lokiMetadata)
	benchModels.Store(key, m)
	return m
}

// frames100kCases are the builds BenchmarkFrames100k times on the
// 1k-span / 100k-line model: logs has the bench world's labels (every Loki
// line its own, with structured metadata), logs_stream_labels Loki lines
// sharing their stream's labels, and all4 builds the four frames
// concurrently, one goroutine each, as pkg/plugin buildFrames does.
var frames100kCases = []struct {
	name     string
	metadata bool
	build    func(*timeline.Model, Options) any
}{
	{"trace", true, func(m *timeline.Model, o Options) any { return Trace(m, o) }},
	{"logs", true, func(m *timeline.Model, o Options) any { return Logs(m, o) }},
	{"logs_stream_labels", false, func(m *timeline.Model, o Options) any { return Logs(m, o) }},
	{"all4", true, func(m *timeline.Model, o Options) any { return buildFourFrames(m, o, Trace, Logs) }},
}

var frames100kOptions = Options{DatasourceUID: "traceweave-uid", DatasourceName: "Traceweave", TempoUID: "tempo-uid", LokiUID: "loki-uid"}

// BenchmarkFrames100k builds the frames of frames100kCases, the size at
// which the trace frame was the critical path of a query's frames. all4's
// ns/op is the wall time of that stage. cpu-ms/op is the process's CPU
// time per op (GC included), steadier than ns/op on a shared machine.
func BenchmarkFrames100k(b *testing.B) {
	for _, c := range frames100kCases {
		b.Run(c.name, func(b *testing.B) {
			m := cachedBenchModel(1_000, 100_000, c.metadata)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for i := 0; i < b.N; i++ {
				_ = c.build(m, frames100kOptions)
			}
			b.ReportMetric(float64(processCPU()-cpu)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}
