package kafka

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// fuzzDecode runs a decoder on arbitrary bytes and checks the invariants
// every decoder keeps: no panic, only records of the searched trace, valid
// UTF-8 bodies and labels, IDs in the documented form, normalised severity.
func fuzzDecode(t *testing.T, dec decodeFunc, data []byte) {
	m, err := newTraceMatcher(testTrace)
	if err != nil {
		t.Fatal(err)
	}
	c := &recordContext{m: m, topic: "t", source: timeline.KafkaSource("t"), partition: 3, offset: 42, kafkaTimeNs: testBase.UnixNano()}
	recs, err := dec(nil, data, c)
	if err != nil && len(recs) > 0 {
		t.Fatalf("error %v with %d records", err, len(recs))
	}
	for _, r := range recs {
		if r.TraceID != testTrace {
			t.Fatalf("record of trace %q", r.TraceID)
		}
		if r.SpanID != "" && (len(r.SpanID) != 16 || strings.Trim(r.SpanID, "0123456789abcdef") != "") {
			t.Fatalf("span ID %q is not 16 lower hex", r.SpanID)
		}
		if !utf8.ValidString(r.Body) || !utf8.ValidString(r.Service) {
			t.Fatalf("invalid UTF-8 in %q / %q", r.Body, r.Service)
		}
		for _, l := range r.Labels {
			if !utf8.ValidString(l.Name) || !utf8.ValidString(l.Value) {
				t.Fatalf("invalid UTF-8 label %q=%q", l.Name, l.Value)
			}
		}
		if timeline.NormalizeSeverity(r.Severity) != r.Severity {
			t.Fatalf("severity %q is not normalised", r.Severity)
		}
		if !strings.HasPrefix(r.ID, "t/3/42/") || r.Source != "kafka:t" {
			t.Fatalf("ID %q source %q", r.ID, r.Source)
		}
	}
}

func FuzzDecodeOTLPProto(f *testing.F) {
	f.Add(protoBytes(f, otlpLogs("svc", logSpec{trace: testTrace, span: "00f067aa0ba90201", body: "hello", sevText: "ERROR", at: testBase})))
	f.Add(protoBytes(f, otlpLogs("svc", logSpec{body: "no trace id but " + testTrace, sevNum: 13})))
	f.Add(protoBytes(f, otlpLogs("svc", logSpec{trace: otherTrace, body: map[string]any{"k": []any{1, "x"}}})))
	f.Add([]byte{0x0a, 0x05, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, decodeOTLPProto, data) })
}

func FuzzDecodeOTLPJSON(f *testing.F) {
	f.Add(jsonBytes(f, otlpLogs("svc", logSpec{trace: testTrace, span: "00f067aa0ba90201", body: "hello", sevText: "warn", at: testBase, attrs: map[string]any{"a": 1.5}})))
	f.Add(jsonBytes(f, otlpLogs("svc", logSpec{body: []byte{0xff, 0xfe}})))
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"` + testTrace + `","body":{"stringValue":"\xff"}}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, decodeOTLPJSON, data) })
}

func FuzzDecodeRaw(f *testing.F) {
	q, _ := json.Marshal("GET / trace_id=" + testTrace + " span_id=00f067aa0ba90201 level=warn")
	f.Add(q)
	f.Add([]byte(`{"msg":"x","trace_id":"` + testTrace + `","time":"2026-11-14T10:00:00Z"}`))
	f.Add([]byte("\xff\x00" + testTrace))
	f.Add([]byte(`"\ud800 ` + testTrace + `"`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, decodeRaw, data) })
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"@timestamp":"2026-11-14T10:00:02.5Z","level":"INFO","message":"m","traceId":"` + strings.ToUpper(testTrace) + `","user":{"id":"u"}}`))
	f.Add([]byte(`{"ts":1794650403123,"msg":"` + testTrace + `","lvl":50,"span.id":"00f067aa0ba90201"}`))
	f.Add([]byte(`{"trace":{"id":"S/kvNXezTaajzpKdDg5HNg=="},"log":{"level":"error"},"message":"ecs"}`))
	f.Add([]byte(`{"time":-1e400,"msg":"` + testTrace + `"}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, decodeJSON, data) })
}

func FuzzDecodeText(f *testing.F) {
	f.Add([]byte("<11>1 2026-11-14T10:00:02.125Z host app 1 - - boom trace_id=" + testTrace + " span_id=00f067aa0ba90201"))
	f.Add([]byte("Nov 14 10:00:02 host sshd[22]: error: " + strings.ToUpper(testTrace)))
	f.Add([]byte("time=2026-11-14T10:00:02Z level=warn traceID=\"" + testTrace + "\""))
	f.Add([]byte("<999>" + testTrace + " \xc3"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, decodeText, data) })
}
