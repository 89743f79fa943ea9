package bench

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
)

// Shape of the workload, the one BENCHMARKS.md's targets are stated for: trace sizes 10, 1k and
// 10k spans, log counts 0, 1k and 100k per trace, 1M Kafka records over one
// hour of timestamps in three topics.
var (
	spanSizes = []int{10, 1_000, 10_000}
	logSizes  = []int{0, 1_000, 100_000}
)

const (
	// totalKafkaRecords is the size of the Kafka archive, background plus
	// the benchmark traces' own records.
	totalKafkaRecords = 1_000_000
	archiveSpan       = time.Hour
	// exportDelay is how long after a log line the collector writes it to
	// Kafka: the record timestamp is the export time (docs/DESIGN.md,
	// "Upstream facts").
	exportDelay = 800 * time.Millisecond
	// windowBefore and windowAfter are the models defaults the engine pads
	// the trace with; the benchmarks compute the same window to run the
	// sources alone.
	windowBefore = 30 * time.Second
	windowAfter  = 2 * time.Minute

	topicOTLP   = "otlp_logs"
	topicAudit  = "audit"
	topicSyslog = "syslog"
	partsOTLP   = 16
	partsAudit  = 6
	partsSyslog = 6
)

// archiveStart is the first Kafka timestamp of the archive.
var archiveStart = time.Date(2026, 11, 14, 9, 0, 0, 0, time.UTC)

// services are the tiers of the reference architecture, as resources.
var services = []struct{ name, lang, db string }{
	{"go-proxy", "go", ""},
	{"go-api", "go", ""},
	{"rails-api", "ruby", ""},
	{"mysql", "", "mysql"},
	{"redis", "", "redis"},
}

// traceCase is one benchmark trace: its spans in Tempo, its log lines in
// Loki and the three Kafka topics, all inside its window.
type traceCase struct {
	name       string
	traceID    string
	rawID      [16]byte
	spans      int
	logs       int // total distinct lines: lokiLogs + kafkaLogs
	lokiLogs   int
	kafkaLogs  [3]int // per topic: otlp_logs, audit, syslog
	start, end time.Time
	// tempoBody is the GET /api/v2/traces/{id} protobuf answer.
	tempoBody []byte
	spanIDs   []string
	// stats counts the spans and error spans per service, as Tempo's
	// search answer gives them.
	stats map[string]foundTraceStats
}

// found is the trace as Tempo's search lists it, and whether it has an
// error span (what the dashboard's search, errorSearch, finds).
func (tc *traceCase) found() (foundTrace, bool) {
	errs := 0
	for _, st := range tc.stats {
		errs += st.ErrorCount
	}
	return foundTrace{
		TraceID: tc.traceID, RootServiceName: services[0].name, RootTraceName: "GET /api/orders",
		StartTimeUnixNano: strconv.FormatInt(tc.start.UnixNano(), 10),
		DurationMs:        tc.end.Sub(tc.start).Milliseconds(),
		ServiceStats:      tc.stats, start: tc.start.UnixNano(),
	}, errs > 0
}

// window is the log search window the engine derives from the trace.
func (tc *traceCase) window() (time.Time, time.Time) {
	return tc.start.Add(-windowBefore), tc.end.Add(windowAfter)
}

// kafkaTotal is the number of this trace's records in Kafka.
func (tc *traceCase) kafkaTotal() int { return tc.kafkaLogs[0] + tc.kafkaLogs[1] + tc.kafkaLogs[2] }

// caseName is the sub-benchmark name of a cell of the matrix.
func caseName(spans, logs int) string { return fmt.Sprintf("spans=%d/logs=%d", spans, logs) }

// newCases lays the nine traces of the matrix out over the archive hour, six
// minutes apart so their windows never overlap, starting at minute five.
func newCases(rng *rand.Rand) map[string]*traceCase {
	cases := map[string]*traceCase{}
	k := 0
	for _, s := range spanSizes {
		for _, n := range logSizes {
			tc := &traceCase{name: caseName(s, n), spans: s, logs: n}
			for i := 0; i < 16; i += 8 {
				binary.BigEndian.PutUint64(tc.rawID[i:], rng.Uint64())
			}
			tc.traceID = hex.EncodeToString(tc.rawID[:])
			tc.start = archiveStart.Add(5*time.Minute + time.Duration(k)*6*time.Minute).Add(137 * time.Millisecond)
			// A trace lasts ~1 ms per span, at least one second.
			tc.end = tc.start.Add(max(time.Second, time.Duration(s)*time.Millisecond))
			tc.lokiLogs = n / 2
			rest := n - tc.lokiLogs
			tc.kafkaLogs = [3]int{rest - 2*(rest/3), rest / 3, rest / 3}
			cases[tc.name] = tc
			k++
		}
	}
	return cases
}

// buildSpans makes the trace's spans (a tree of fan-out four across the five
// tiers) and its Tempo v2 answer: TraceByIDResponse{trace = 1, metrics = 2}
// with the trace as OTLP TracesData, the layout of the recorded fixture.
func (tc *traceCase) buildSpans(metrics []byte) error {
	td := ptrace.NewTraces()
	scopes := make([]ptrace.ScopeSpans, len(services))
	for i, svc := range services {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc.name)
		rs.Resource().Attributes().PutStr("deployment.environment", "bench")
		if svc.lang != "" {
			rs.Resource().Attributes().PutStr("telemetry.sdk.language", svc.lang)
		}
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("traceweave-bench")
		ss.Scope().SetVersion("1.0.0")
		scopes[i] = ss
	}
	dur := tc.end.Sub(tc.start)
	tc.spanIDs = make([]string, tc.spans)
	tc.stats = map[string]foundTraceStats{}
	for i := 0; i < tc.spans; i++ {
		var sid pcommon.SpanID
		binary.BigEndian.PutUint64(sid[:], uint64(0x00f067aa0ba90000)+uint64(i)+1)
		tc.spanIDs[i] = hex.EncodeToString(sid[:])
		svc := i % len(services)
		if i == 0 {
			svc = 0
		}
		sp := scopes[svc].Spans().AppendEmpty()
		st := tc.stats[services[svc].name]
		st.SpanCount++
		sp.SetTraceID(tc.rawID)
		sp.SetSpanID(sid)
		// Children start later and end earlier than their parent.
		off := time.Duration(0)
		end := dur
		if i > 0 {
			parent := (i - 1) / 4
			var pid pcommon.SpanID
			binary.BigEndian.PutUint64(pid[:], uint64(0x00f067aa0ba90000)+uint64(parent)+1)
			sp.SetParentSpanID(pid)
			off = time.Duration(int64(dur) * int64(i) / int64(tc.spans) / 2)
			end = off + (dur-off)/2
		}
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(tc.start.Add(off)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(tc.start.Add(end)))
		a := sp.Attributes()
		switch services[svc].db {
		case "mysql":
			sp.SetName("SELECT orders")
			sp.SetKind(ptrace.SpanKindClient)
			a.PutStr("db.system", "mysql")
			a.PutStr("db.statement", "SELECT id, total FROM orders WHERE user_id = ? LIMIT 50")
		case "redis":
			sp.SetName("GET")
			sp.SetKind(ptrace.SpanKindClient)
			a.PutStr("db.system", "redis")
			a.PutStr("db.statement", "GET cart:42")
		default:
			sp.SetName("GET /api/orders")
			sp.SetKind(ptrace.SpanKindServer)
			a.PutStr("http.request.method", "GET")
			a.PutStr("http.route", "/api/orders")
			a.PutInt("http.response.status_code", 200)
		}
		if i%97 == 13 {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage("upstream timeout")
			ev := sp.Events().AppendEmpty()
			ev.SetName("exception")
			ev.SetTimestamp(pcommon.NewTimestampFromTime(tc.start.Add(off)))
			ev.Attributes().PutStr("exception.message", "context deadline exceeded")
			st.ErrorCount++
		}
		tc.stats[services[svc].name] = st
	}
	raw, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		return err
	}
	body := protowire.AppendTag(nil, 1, protowire.BytesType)
	body = protowire.AppendBytes(body, raw)
	body = protowire.AppendTag(body, 2, protowire.BytesType)
	tc.tempoBody = protowire.AppendBytes(body, metrics)
	return nil
}

// logLine is one generated log line of a benchmark trace.
type logLine struct {
	at      time.Time
	spanID  string
	service string
	level   string
	body    string
}

// line returns the i-th of n lines of the trace (i counts over all sources,
// so every line body is distinct and the merge keeps each once). Lines are
// spread over the trace's duration and over its spans.
func (tc *traceCase) line(i, n int) logLine {
	dur := tc.end.Sub(tc.start)
	span := i % tc.spans
	svc := span % len(services)
	lvl := "info"
	switch {
	case i%53 == 7:
		lvl = "error"
	case i%11 == 3:
		lvl = "debug"
	}
	return logLine{
		at:      tc.start.Add(time.Duration(int64(dur) * int64(i) / int64(max(n, 1)))),
		spanID:  tc.spanIDs[span],
		service: services[svc].name,
		level:   lvl,
		body:    fmt.Sprintf("GET /api/orders step %d handled in %dms user=%d cache=miss", i, 3+i%40, 1000+i%977),
	}
}

// readFixture reads a recorded upstream answer (testdata/, real Tempo and Loki
// answers: docs/DESIGN.md, "Upstream facts").
func readFixture(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("testdata", name))
}

// tempoMetrics returns the metrics message (field 2) of the recorded v2
// answer, so the generated answers carry the same envelope.
func tempoMetrics() ([]byte, error) {
	b, err := readFixture("tempo_trace_v2.pb")
	if err != nil {
		return nil, err
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return nil, protowire.ParseError(m)
			}
			b = b[m:]
			continue
		}
		v, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		if num == 2 {
			return bytes.Clone(v), nil
		}
		b = b[m:]
	}
	return nil, fmt.Errorf("tempo_trace_v2.pb has no metrics field")
}

// lokiValue is one pre-rendered categorize-labels value of the fake Loki:
// ["<ns>","<line>",{"structuredMetadata":{…}}].
type lokiValue struct {
	ts     int64
	stream int
	json   []byte
}

// lokiStreams are the index label sets of the fake Loki's streams, one per
// service, as OTLP ingestion writes them.
var lokiStreams = func() [][]byte {
	out := make([][]byte, len(services))
	for i, s := range services {
		out[i] = []byte(`{"deployment_environment":"bench","service_name":"` + s.name + `","service_namespace":"shop"}`)
	}
	return out
}()

// lokiValues renders the trace's Loki lines in time order.
func (tc *traceCase) lokiValues() []lokiValue {
	out := make([]lokiValue, 0, tc.lokiLogs)
	for i := 0; i < tc.lokiLogs; i++ {
		l := tc.line(i, tc.logs)
		line := "level=" + l.level + " msg=\"" + l.body + "\" service=" + l.service
		q, _ := json.Marshal(line)
		ts := l.at.UnixNano()
		var b bytes.Buffer
		b.WriteString(`["`)
		b.WriteString(strconv.FormatInt(ts, 10))
		b.WriteString(`",`)
		b.Write(q)
		b.WriteString(`,{"structuredMetadata":{"detected_level":"` + l.level + `","observed_timestamp":"` +
			strconv.FormatInt(ts+int64(exportDelay), 10) + `","scope_name":"traceweave-bench","severity_text":"` +
			l.level + `","span_id":"` + l.spanID + `","trace_id":"` + tc.traceID + `"}}]`)
		out = append(out, lokiValue{ts: ts, stream: (i % tc.spans) % len(services), json: b.Bytes()})
	}
	return out
}

// newTestRand is the generator of the benchmark world, for tests that build
// parts of it alone.
func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(11, 2026)) }
