package tempo

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// richTraces builds a trace using every OTLP feature the conversion maps:
// all value types, events, links, trace state, namespace, a resource
// without service.name and an unspecified kind.
func richTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	rs.Resource().Attributes().PutStr("service.namespace", "shop")
	rs.Resource().Attributes().PutStr("telemetry.sdk.language", "go")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("otelhttp")
	ss.Scope().SetVersion("0.60.0")
	s := ss.Spans().AppendEmpty()
	s.SetTraceID(pcommon.TraceID{0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	s.SetSpanID(pcommon.SpanID{0xcd, 1, 2, 3, 4, 5, 6, 7})
	s.SetName("POST /pay")
	s.SetKind(ptrace.SpanKindProducer)
	s.SetStartTimestamp(1_000_000_123)
	s.SetEndTimestamp(2_000_000_456)
	s.TraceState().FromRaw("rojo=00f067aa0ba902b7")
	s.Status().SetCode(ptrace.StatusCodeError)
	s.Status().SetMessage("card declined")
	a := s.Attributes()
	a.PutStr("str", "v")
	a.PutInt("int", -7)
	a.PutDouble("double", 1.5)
	a.PutDouble("nan", math.NaN())
	a.PutDouble("inf", math.Inf(-1))
	a.PutBool("bool", true)
	a.PutEmptyBytes("bytes").FromRaw([]byte{0xff, 0x00})
	sl := a.PutEmptySlice("slice")
	sl.AppendEmpty().SetStr("x")
	sl.AppendEmpty().SetInt(2)
	m := a.PutEmptyMap("map")
	m.PutBool("ok", false)
	m.PutEmptyMap("inner").PutStr("k", "v")
	a.PutEmpty("empty")
	ev := s.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(1_500_000_000)
	ev.Attributes().PutStr("exception.type", "CardError")
	l := s.Links().AppendEmpty()
	l.SetTraceID(pcommon.TraceID{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	l.SetSpanID(pcommon.SpanID{2, 2, 2, 2, 2, 2, 2, 2})
	l.Attributes().PutStr("link.reason", "retry")

	rs2 := td.ResourceSpans().AppendEmpty() // no service.name
	s2 := rs2.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s2.SetTraceID(s.TraceID())
	s2.SetSpanID(pcommon.SpanID{0xcd, 9, 9, 9, 9, 9, 9, 9})
	s2.SetParentSpanID(s.SpanID())
	s2.SetName("work")
	return td
}

func wrapV2(t testing.TB, td ptrace.Traces) []byte {
	t.Helper()
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	out := protowire.AppendTag(nil, fieldResponseTrace, protowire.BytesType)
	return protowire.AppendBytes(out, b)
}

func wantRichSpans(t *testing.T, spans []timeline.Span) {
	t.Helper()
	require.Len(t, spans, 2)
	s := spans[0]
	assert.Equal(t, "ab0102030405060708090a0b0c0d0e0f", s.TraceID)
	assert.Equal(t, "cd01020304050607", s.SpanID)
	assert.Empty(t, s.ParentSpanID)
	assert.Equal(t, "checkout", s.Service)
	assert.Equal(t, "shop", s.ServiceNamespace)
	assert.Equal(t, timeline.KindProducer, s.Kind)
	assert.Equal(t, timeline.StatusError, s.StatusCode)
	assert.Equal(t, "card declined", s.StatusMessage)
	assert.Equal(t, int64(1_000_000_123), s.StartNs)
	assert.Equal(t, int64(2_000_000_456), s.EndNs)
	assert.Equal(t, "rojo=00f067aa0ba902b7", s.TraceState)
	assert.Equal(t, "otelhttp", s.ScopeName)
	assert.Equal(t, "0.60.0", s.ScopeVersion)
	assert.Equal(t, []timeline.KeyValue{
		{Key: "str", Value: "v"},
		{Key: "int", Value: int64(-7)},
		{Key: "double", Value: 1.5},
		{Key: "nan", Value: "NaN"},
		{Key: "inf", Value: "-Infinity"},
		{Key: "bool", Value: true},
		{Key: "bytes", Value: "/wA="},
		{Key: "slice", Value: []any{"x", int64(2)}},
		{Key: "map", Value: map[string]any{"ok": false, "inner": map[string]any{"k": "v"}}},
		{Key: "empty", Value: nil},
	}, s.Attrs)
	assert.Equal(t, []timeline.SpanEvent{{TimeNs: 1_500_000_000, Name: "exception",
		Attrs: []timeline.KeyValue{{Key: "exception.type", Value: "CardError"}}}}, s.Events)
	assert.Equal(t, []timeline.SpanLink{{TraceID: "01010101010101010101010101010101", SpanID: "0202020202020202",
		Attrs: []timeline.KeyValue{{Key: "link.reason", Value: "retry"}}}}, s.Links)

	u := spans[1]
	assert.Equal(t, UnknownService, u.Service)
	assert.Equal(t, timeline.KindUnspecified, u.Kind)
	assert.Equal(t, "cd01020304050607", u.ParentSpanID)
	assert.Nil(t, u.ResourceAttrs)
}

func TestDecodeConvertsEveryOTLPFeature(t *testing.T) {
	td := richTraces()
	res, err := Decode(APIv2, "application/x-protobuf", wrapV2(t, td))
	require.NoError(t, err)
	wantRichSpans(t, res.Trace.Spans)
	assert.Equal(t, "ab0102030405060708090a0b0c0d0e0f", res.Trace.TraceID)
	_, err = json.Marshal(res.Trace)
	require.NoError(t, err, "every converted value must be JSON-encodable")

	// OTLP/JSON (hex IDs), as a collector or a proxy re-encoding would send it.
	js, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	res, err = Decode(APIv1, "application/json", js)
	require.NoError(t, err)
	wantRichSpans(t, res.Trace.Spans)
}

func TestDecodeV1JSONBatchesAreNotSilentlyEmpty(t *testing.T) {
	// pdata alone accepts {"batches":…} with zero spans; the fixture has 8.
	res, err := Decode(APIv1, "application/json", fixture(t, "tempo_trace_v1.json"))
	require.NoError(t, err)
	assert.Len(t, res.Trace.Spans, 8)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(fixture(t, "tempo_trace_v1.json"))
	require.NoError(t, err)
	assert.Zero(t, td.SpanCount(), "if pdata starts reading batches, normalizeTempoJSON can be simplified")
}

func TestDecodeLegacyInstrumentationLibraryJSON(t *testing.T) {
	doc := `{"batches":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"old"}}]},
	  "instrumentationLibrarySpans":[{"instrumentationLibrary":{"name":"lib"},
	    "spans":[{"traceId":"S/kvNXezTaajzpKdDg5HNg==","spanId":"APBnqgupAgE","name":"x","kind":"SPAN_KIND_CLIENT",
	      "links":[{"traceId":"S_kvNXezTaajzpKdDg5HNg","spanId":"APBnqgupAgI="}]}]}]}]}`
	res, err := Decode(APIv1, "application/json", []byte(doc))
	require.NoError(t, err)
	require.Len(t, res.Trace.Spans, 1)
	s := res.Trace.Spans[0]
	assert.Equal(t, "old", s.Service)
	assert.Equal(t, "lib", s.ScopeName)
	assert.Equal(t, fixtureTraceID, s.TraceID)
	assert.Equal(t, "00f067aa0ba90201", s.SpanID, "unpadded base64")
	assert.Equal(t, []timeline.SpanLink{{TraceID: fixtureTraceID, SpanID: "00f067aa0ba90202"}}, s.Links, "URL alphabet base64")
}

func TestIDToHex(t *testing.T) {
	for _, c := range []struct {
		in, want string
		size     int
		bad      bool
	}{
		{in: "S/kvNXezTaajzpKdDg5HNg==", size: 16, want: fixtureTraceID},
		{in: "S_kvNXezTaajzpKdDg5HNg", size: 16, want: fixtureTraceID},
		{in: fixtureTraceID, size: 16, want: fixtureTraceID},
		{in: strings.ToUpper(fixtureTraceID), size: 16, want: fixtureTraceID},
		{in: "APBnqgupAgE=", size: 8, want: "00f067aa0ba90201"},
		{in: "00f067aa0ba90201", size: 8, want: "00f067aa0ba90201"},
		{in: "", size: 8, want: ""},
		{in: "APBnqgupAg==", size: 8, bad: true},          // 7 bytes
		{in: "not base64!!", size: 8, bad: true},          // neither
		{in: "00f067aa0ba9020", size: 8, bad: true},       // odd hex, not base64 of 8 bytes
		{in: strings.Repeat("A", 32), size: 8, bad: true}, // base64 of 24 bytes
	} {
		got, err := idToHex(c.in, c.size)
		if c.bad {
			assert.Error(t, err, "%q", c.in)
			continue
		}
		require.NoError(t, err, "%q", c.in)
		assert.Equal(t, c.want, got, "%q", c.in)
	}
}

func TestUnwrapTraceByIDResponse(t *testing.T) {
	td := richTraces()
	b1 := ptrace.NewTraces()
	td.ResourceSpans().At(0).CopyTo(b1.ResourceSpans().AppendEmpty())
	b2 := ptrace.NewTraces()
	td.ResourceSpans().At(1).CopyTo(b2.ResourceSpans().AppendEmpty())

	// metrics (2) and an unknown field between two trace chunks, status last.
	body := protowire.AppendTag(nil, 2, protowire.BytesType)
	body = protowire.AppendBytes(body, []byte{0x08, 0x01})
	body = append(body, wrapV2(t, b1)...)
	body = protowire.AppendTag(body, 9, protowire.Fixed64Type)
	body = protowire.AppendFixed64(body, 42)
	body = append(body, wrapV2(t, b2)...)
	body = protowire.AppendTag(body, fieldResponseStatus, protowire.VarintType)
	body = protowire.AppendVarint(body, 0)
	res, err := Decode(APIv2, "application/protobuf", body)
	require.NoError(t, err)
	assert.False(t, res.Partial)
	wantRichSpans(t, res.Trace.Spans)

	bad := protowire.AppendTag(nil, fieldResponseStatus, protowire.BytesType)
	bad = protowire.AppendBytes(bad, []byte("x"))
	_, err = Decode(APIv2, "application/protobuf", bad)
	require.ErrorIs(t, err, ErrDecode)

	// The v2 envelope fed as v1 is not a Trace: a decode error, not a panic.
	_, err = Decode(APIv1, "application/protobuf", append(fixture(t, "tempo_trace_v2.pb"), 0xff))
	require.ErrorIs(t, err, ErrDecode)
}

func TestDecodeRejects(t *testing.T) {
	v2 := fixture(t, "tempo_trace_v2.json")
	for name, c := range map[string]struct {
		api, ct string
		body    []byte
		want    error
	}{
		"unknown api":         {"v3", "application/json", v2, ErrDecode},
		"bad content type":    {APIv2, "application/json; =", v2, ErrDecode},
		"text":                {APIv2, "text/plain", []byte("ok"), ErrDecode},
		"json null":           {APIv2, "application/json", []byte("null"), ErrDecode},
		"json trace string":   {APIv2, "application/json", []byte(`{"trace":"x"}`), ErrDecode},
		"json bad status":     {APIv2, "application/json", []byte(`{"trace":{},"status":"MAYBE"}`), ErrDecode},
		"json batches object": {APIv1, "application/json", []byte(`{"batches":{}}`), ErrDecode},
		"json bad id":         {APIv1, "application/json", []byte(`{"batches":[{"scopeSpans":[{"spans":[{"spanId":"xyz"}]}]}]}`), ErrDecode},
		"json id number":      {APIv1, "application/json", []byte(`{"batches":[{"scopeSpans":[{"spans":[{"spanId":5}]}]}]}`), ErrDecode},
		"json truncated":      {APIv2, "application/json", v2[:len(v2)/2], ErrDecode},
		"v2 empty trace":      {APIv2, "application/json", fixture(t, "tempo_trace_v2_notfound.txt"), ErrTraceNotFound},
		"v2 null trace":       {APIv2, "application/json", []byte(`{"trace":null}`), ErrTraceNotFound},
		"v1 empty json":       {APIv1, "application/json", []byte(`{}`), ErrTraceNotFound},
		"v2 empty protobuf":   {APIv2, "application/protobuf", nil, ErrTraceNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(c.api, c.ct, c.body)
			require.ErrorIs(t, err, c.want)
		})
	}
}

// bigTraceResponse is a v2 protobuf answer with n spans spread over 5
// services, each span with 6 attributes and every tenth with an event: the
// shape of a busy request through the reference architecture.
func bigTraceResponse(t testing.TB, n int) []byte {
	td := ptrace.NewTraces()
	services := []string{"go-proxy", "go-api", "rails-api", "mysql", "redis"}
	per := n / len(services)
	id := uint64(1)
	for _, svc := range services {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		rs.Resource().Attributes().PutStr("deployment.environment", "prod")
		rs.Resource().Attributes().PutStr("host.name", "node-17")
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for i := 0; i < per; i++ {
			s := spans.AppendEmpty()
			s.SetTraceID(pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36})
			s.SetSpanID(pcommon.SpanID{0, 0, 0, byte(id >> 32), byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)})
			s.SetParentSpanID(pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, 1})
			id++
			s.SetName(fmt.Sprintf("%s op %d", svc, i%50))
			s.SetKind(ptrace.SpanKindClient)
			s.SetStartTimestamp(pcommon.Timestamp(1795710089284890717 + uint64(i)*1000))
			s.SetEndTimestamp(pcommon.Timestamp(1795710089284890717 + uint64(i)*1000 + 500))
			a := s.Attributes()
			a.PutStr("http.request.method", "GET")
			a.PutStr("url.path", "/api/orders/42")
			a.PutInt("http.response.status_code", 200)
			a.PutStr("db.system", "mysql")
			a.PutStr("db.statement", "SELECT * FROM orders WHERE user_id = ?")
			a.PutDouble("sample.rate", 0.25)
			if i%10 == 0 {
				e := s.Events().AppendEmpty()
				e.SetName("cache.miss")
				e.SetTimestamp(s.StartTimestamp() + 10)
				e.Attributes().PutStr("cache.key", "orders:42")
			}
		}
	}
	return wrapV2(t, td)
}

func BenchmarkDecodeTrace(b *testing.B) {
	const spans = 10_000
	body := bigTraceResponse(b, spans)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := Decode(APIv2, "application/protobuf", body)
		if err != nil || len(res.Trace.Spans) != spans {
			b.Fatalf("decode: %v", err)
		}
	}
	b.ReportMetric(float64(spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}
