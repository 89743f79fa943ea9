package kafka

import (
	"encoding/json"
	"strings"
	"testing"
)

// fuzzDecode runs a decoder on arbitrary bytes and checks the invariants
// every decoder keeps (checkDecode), searching each trace, with and without
// a record already in dst.
func fuzzDecode(t *testing.T, dec decodeFunc, data []byte) {
	for sel := range uint8(8) {
		checkDecode(t, dec, data, sel)
	}
}

// addDecodeSeeds seeds a decoder fuzzer with its own seeds and every saved
// input of the golden test (each decoder also meets the other encodings'
// messages: a raw topic holds JSON and text).
func addDecodeSeeds(f *testing.F, own [][]byte) {
	for _, s := range append(own, decodeInputs(f)...) {
		f.Add(s)
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
	addDecodeSeeds(f, fuzzSeedsOTLPProto(f))
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
	addDecodeSeeds(f, fuzzSeedsOTLPJSON(f))
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
	addDecodeSeeds(f, fuzzSeedsRaw(f))
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
	addDecodeSeeds(f, fuzzSeedsJSON(f))
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
	addDecodeSeeds(f, fuzzSeedsText(f))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, decodeText, data) })
}
