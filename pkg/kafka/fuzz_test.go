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

func fuzzSeedsOTLPProto(tb testing.TB) [][]byte {
	return [][]byte{
		protoBytes(tb, otlpLogs("svc", logSpec{trace: testTrace, span: "00f067aa0ba90201", body: "hello", sevText: "ERROR", at: testBase})),
		protoBytes(tb, otlpLogs("svc", logSpec{body: "no trace id but " + testTrace, sevNum: 13})),
		protoBytes(tb, otlpLogs("svc", logSpec{trace: otherTrace, body: map[string]any{"k": []any{1, "x"}}})),
		[]byte{0x0a, 0x05, 0xff},
	}
}

func FuzzDecodeOTLPProto(f *testing.F) {
	for _, s := range fuzzSeedsOTLPProto(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, decodeOTLPProto, data) })
}

func fuzzSeedsOTLPJSON(tb testing.TB) [][]byte {
	return [][]byte{
		jsonBytes(tb, otlpLogs("svc", logSpec{trace: testTrace, span: "00f067aa0ba90201", body: "hello", sevText: "warn", at: testBase, attrs: map[string]any{"a": 1.5}})),
		jsonBytes(tb, otlpLogs("svc", logSpec{body: []byte{0xff, 0xfe}})),
		[]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"` + testTrace + `","body":{"stringValue":"\xff"}}]}]}]}`),
	}
}

func FuzzDecodeOTLPJSON(f *testing.F) {
	for _, s := range fuzzSeedsOTLPJSON(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, decodeOTLPJSON, data) })
}

func fuzzSeedsRaw(tb testing.TB) [][]byte {
	q, _ := json.Marshal("GET / trace_id=" + testTrace + " span_id=00f067aa0ba90201 level=warn")
	return [][]byte{
		q,
		[]byte(`{"msg":"x","trace_id":"` + testTrace + `","time":"2026-11-14T10:00:00Z"}`),
		[]byte("\xff\x00" + testTrace),
		[]byte(`"\ud800 ` + testTrace + `"`),
	}
}

func FuzzDecodeRaw(f *testing.F) {
	for _, s := range fuzzSeedsRaw(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, decodeRaw, data) })
}

func fuzzSeedsJSON(tb testing.TB) [][]byte {
	return [][]byte{
		[]byte(`{"@timestamp":"2026-11-14T10:00:02.5Z","level":"INFO","message":"m","traceId":"` + strings.ToUpper(testTrace) + `","user":{"id":"u"}}`),
		[]byte(`{"ts":1794650403123,"msg":"` + testTrace + `","lvl":50,"span.id":"00f067aa0ba90201"}`),
		[]byte(`{"trace":{"id":"S/kvNXezTaajzpKdDg5HNg=="},"log":{"level":"error"},"message":"ecs"}`),
		[]byte(`{"time":-1e400,"msg":"` + testTrace + `"}`),
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range fuzzSeedsJSON(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, decodeJSON, data) })
}

func fuzzSeedsText(tb testing.TB) [][]byte {
	return [][]byte{
		[]byte("<11>1 2026-11-14T10:00:02.125Z host app 1 - - boom trace_id=" + testTrace + " span_id=00f067aa0ba90201"),
		[]byte("Nov 14 10:00:02 host sshd[22]: error: " + strings.ToUpper(testTrace)),
		[]byte("time=2026-11-14T10:00:02Z level=warn traceID=\"" + testTrace + "\""),
		[]byte("<999>" + testTrace + " \xc3"),
	}
}

func FuzzDecodeText(f *testing.F) {
	for _, s := range fuzzSeedsText(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, decodeText, data) })
}
