package frames

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// stdJSON is what encoding/json writes for v, with HTML escaping off (the
// frames do not escape <, > and &; both forms are the same JSON).
func stdJSON(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// TestJSONCellsMatchEncodingJSON checks the hand encoders byte for byte
// against encoding/json on every value type an attribute can hold.
func TestJSONCellsMatchEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `quote " back \ slash`, "tab\tnl\ncr\r bell\x07 bs\b ff\f", "ünï", "bad\xffutf8", "sep\u2028par\u2029", "<a href='x'>&amp;</a>"}
	floats := []float64{0, 1, -1.5, 0.1, 1e-6, 9.99e-7, 1e-7, 123456789.125, 1e20, 1e21, 1.5e300, -2.5e-300, 1795710089284.8907, math.Copysign(0, -1)}
	var kvs []timeline.KeyValue
	for _, s := range strs {
		kvs = append(kvs, timeline.KeyValue{Key: s, Value: s})
	}
	for _, f := range floats {
		kvs = append(kvs, timeline.KeyValue{Key: "f", Value: f})
		require.Equal(t, stdJSON(t, f), string(appendJSONFloat(nil, f)), "float %v", f)
	}
	kvs = append(kvs,
		timeline.KeyValue{Key: "i", Value: int64(-42)},
		timeline.KeyValue{Key: "max", Value: int64(math.MaxInt64)},
		timeline.KeyValue{Key: "n", Value: 7},
		timeline.KeyValue{Key: "b", Value: true},
		timeline.KeyValue{Key: "nil", Value: nil},
		timeline.KeyValue{Key: "list", Value: []any{"a", int64(1), 2.5, false, []any{}}},
		timeline.KeyValue{Key: "map", Value: map[string]any{"z": "1", "a": map[string]any{"b": int64(2)}}},
	)
	require.Equal(t, stdJSON(t, kvs), string(appendKeyValues(nil, kvs)))
	require.Equal(t, "[]", string(appendKeyValues(nil, nil)))
	require.Equal(t, "null", string(appendJSONValue(nil, math.NaN())), "NaN cannot be JSON")
}

// TestTraceCellsMatchEncodingJSON compares the span cells with what
// encoding/json gives for the documented shapes.
func TestTraceCellsMatchEncodingJSON(t *testing.T) {
	type traceLog struct {
		Timestamp float64             `json:"timestamp"`
		Fields    []timeline.KeyValue `json:"fields"`
		Name      string              `json:"name,omitempty"`
	}
	logs := []timeline.Log{
		{LogRecord: &timeline.LogRecord{TimeNs: 3_000_000, Body: "third <b>", Severity: "info", Service: "api"}, Sources: []string{"loki"}, Attach: timeline.AttachSpanID},
		{LogRecord: &timeline.LogRecord{TimeNs: 1_500_000, Body: "first", Severity: "error", Service: "db"}, Sources: []string{"loki", "kafka:otlp_logs"}, Attach: timeline.AttachTime},
	}
	s := &timeline.SpanNode{Span: timeline.Span{
		Service: "api", Tier: timeline.TierGo,
		Attrs:  []timeline.KeyValue{{Key: "http.route", Value: "/x"}},
		Events: []timeline.SpanEvent{{TimeNs: 3_000_000, Name: "exception", Attrs: []timeline.KeyValue{{Key: "exception.message", Value: "boom"}}}, {TimeNs: 2_000_000}},
		Links:  []timeline.SpanLink{{TraceID: "0a", SpanID: "0b", Attrs: []timeline.KeyValue{{Key: "k", Value: int64(1)}}}},
	}, Logs: []int{1, 0, 5}, Error: true}

	want := []traceLog{
		{Timestamp: 1.5, Name: "log", Fields: []timeline.KeyValue{{Key: "body", Value: "first"}, {Key: "severity", Value: "error"}, {Key: "source", Value: "loki,kafka:otlp_logs"}, {Key: "service", Value: "db"}, {Key: "attach", Value: "time"}}},
		{Timestamp: 2, Fields: []timeline.KeyValue{}},
		{Timestamp: 3, Name: "exception", Fields: []timeline.KeyValue{{Key: "exception.message", Value: "boom"}}},
		{Timestamp: 3, Name: "log", Fields: []timeline.KeyValue{{Key: "body", Value: "third <b>"}, {Key: "severity", Value: "info"}, {Key: "source", Value: "loki"}}},
	}
	require.Equal(t, stdJSON(t, want), string(spanLogsJSON(s, logs, 0)), "time order, events first at equal times, out-of-range index skipped")
	require.Equal(t, `[{"spanID":"0b","traceID":"0a","tags":[{"key":"k","value":1}]}]`, string(spanReferencesJSON(s.Links)))
	require.Equal(t, `[{"key":"http.route","value":"/x"},{"key":"tier","value":"go"},{"key":"error","value":true}]`, string(spanTagsJSON(s)))
	require.Equal(t, `[]`, string(spanTagsJSON(&timeline.SpanNode{})))
}

func BenchmarkSpanLogsJSON(b *testing.B) {
	logs := make([]timeline.Log, 10)
	idx := make([]int, len(logs))
	for i := range logs {
		logs[i] = timeline.Log{LogRecord: &timeline.LogRecord{TimeNs: int64(i) * 1e6, Body: `level=info msg="GET /api/orders step 5 handled in 8ms user=1005 cache=miss"`, Severity: "info", Service: "go-api"}, Sources: []string{"loki"}, Attach: timeline.AttachSpanID}
		idx[i] = i
	}
	s := &timeline.SpanNode{Span: timeline.Span{Service: "go-api"}, Logs: idx}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = spanLogsJSON(s, logs, 0)
	}
}

// TestResourceCellsShared checks spans of one resource share one encoded
// serviceTags cell and spans of another get their own.
func TestResourceCellsShared(t *testing.T) {
	a := []timeline.KeyValue{{Key: "service.name", Value: "api"}}
	b := []timeline.KeyValue{{Key: "service.name", Value: "db"}}
	var c resourceCells
	first, again, other := c.of(a), c.of(a), c.of(b)
	require.Equal(t, `[{"key":"service.name","value":"api"}]`, string(first))
	require.Equal(t, `[{"key":"service.name","value":"db"}]`, string(other))
	require.Same(t, &first[0], &again[0], "one encoding per resource")
	require.Equal(t, "[]", string(c.of(nil)))
	require.Equal(t, `[]`, string(c.of(a[:0])))
}

// appendJSONStringRef is appendJSONString as it was before the word-at-a-time
// scan (one byte per step): kept as the oracle of FuzzAppendJSONString and
// the baseline of BenchmarkAppendJSONString.
func appendJSONStringRef(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, "\\ufffd"...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// FuzzAppendJSONString checks appendJSONString byte for byte against
// encoding/json (HTML escaping off) and against the byte-at-a-time
// reference, on any string: invalid UTF-8, U+2028/U+2029, control
// characters, and lengths around the 8-byte words the fast path reads.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{
		"", "a", "plain ascii", "exactly8", "exactly8+", "sixteen bytes!!!", `quote " back \ slash`,
		"tab\tnl\ncr\r bell\x07 bs\b ff\f nul\x00 us\x1f del\x7f", "ünï", "日本語のログ行",
		"bad\xffutf8", "\xc3", "trunc\xe2\x80", "sep\u2028par\u2029", "\xe2\x80\xa8\xe2\x80\xa9",
		"\xed\xa0\x80 surrogate", "\xf4\x90\x80\x80 too big", "<a href='x'>&amp;</a>", "1234567\"", "1234567\x80",
		`level=info msg="GET /api/orders step 5 handled in 8ms user=1005 cache=miss"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		prefix := []byte("x")
		got := appendJSONString(prefix, s)
		if !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("appendJSONString(%q) = %q, encoding/json %q", s, got, want)
		}
		if ref := appendJSONStringRef(nil, s); !bytes.Equal(ref, want) {
			t.Fatalf("appendJSONStringRef(%q) = %q, encoding/json %q", s, ref, want)
		}
	})
}

// BenchmarkAppendJSONString runs the encoder and its byte-at-a-time
// reference side by side, so one run gives the ratio.
func BenchmarkAppendJSONString(b *testing.B) {
	logLine := `level=info msg=GET /api/orders step 5 handled in 8ms user=1005 cache=miss trace_id=4bf92f3577b34da6a` // 100 B
	cases := []struct {
		name string
		strs []string
	}{
		// A logs-frame labels cell: 14 names and values of 2 to 13 B.
		{"labels", []string{"code_function", "GET", "env", "prod", "host", "h1", "http_route", "/orders",
			"scope_name", "rails", "service_name", "rails-api", "severity_text", "INFO"}},
		{"short_ascii", []string{"GET /api/orders 200"}}, // 19 B
		{"log_line", []string{logLine}},
		{"long_1k", []string{strings.Repeat(logLine, 10)}},
		// A logfmt line with quoted values and a trailing newline, 101 B.
		{"with_escapes", []string{`level=info msg="GET /api/orders step 5 handled in 8ms" user=1005 cache=miss trace_id=4bf92f3577b34da` + "\n"}},
		// French and Japanese text, 113 B.
		{"non_ascii", []string{"niveau=info msg=«commande reçue» utilisateur=Zoë durée=8ms 注文を処理しました ✓ trace_id=4bf92f35"}},
	}
	for _, c := range cases {
		size := 0
		for _, s := range c.strs {
			size += len(s)
		}
		for _, impl := range []struct {
			name string
			fn   func([]byte, string) []byte
		}{{"new", appendJSONString}, {"ref", appendJSONStringRef}} {
			b.Run(c.name+"/"+impl.name, func(b *testing.B) {
				buf := make([]byte, 0, 2*size+16*len(c.strs))
				b.SetBytes(int64(size))
				for i := 0; i < b.N; i++ {
					buf = buf[:0]
					for _, s := range c.strs {
						buf = impl.fn(buf, s)
					}
				}
			})
		}
	}
}

// epochMillisCases are the timestamps appendEpochMillis is checked on
// besides the fuzzer's: today's, round and not, the bound of its own path
// and beyond, and negative times.
func epochMillisCases() []int64 {
	const bound = int64(1<<42) * 1e6 // the fast path's bound, 2^42 ms, in ns
	cases := []int64{0, 1, 999, 1000, 1001, 10_000, 100_000, 999_999, 1_000_000, 1_001_000, 1_010_000, 1_100_000, 123_456_789,
		1795710089284890718, 1795710089284000000, 1795710089284100000, 1795710089284120000, 1795710089284120999, 1795710089000000000,
		bound - 1, bound - 1000, bound - 1001, bound, bound + 1, bound + 1000, 2*bound - 1000, 2 * (bound - 1), math.MaxInt64,
		-1, -999, -1000, -1001, -1795710089284890718, math.MinInt64}
	return cases
}

// TestAppendEpochMillisMatchesEncodingJSON checks the timestamps of span
// log entries against encoding/json on epochMillisCases, on every fraction
// of a millisecond and on random times.
func TestAppendEpochMillisMatchesEncodingJSON(t *testing.T) {
	cases := epochMillisCases()
	for us := int64(0); us < 3000; us++ { // every fraction, and 1e-3 ms to 3 ms
		cases = append(cases, us*1000, 1795710089284_000_000+us*1000+us%1000)
	}
	for _, ns := range cases {
		require.Equal(t, stdJSON(t, epochMillis(ns)), string(appendEpochMillis(nil, ns)), "ns %d", ns)
	}
	// And random times: around today, up to twice the fast path's bound,
	// and any.
	rng := rand.New(rand.NewPCG(1, 2026))
	for i := 0; i < 120_000; i++ {
		var ns int64
		switch i % 3 {
		case 0:
			ns = 1795710089284890718 + rng.Int64N(1e15) - 5e14
		case 1:
			ns = rng.Int64N(int64(1<<43) * 1e6)
		default:
			ns = int64(rng.Uint64())
		}
		want, err := json.Marshal(epochMillis(ns))
		require.NoError(t, err)
		if got := appendEpochMillis(nil, ns); string(got) != string(want) {
			require.Equal(t, string(want), string(got), "ns %d", ns)
		}
	}
	require.Equal(t, "1795710089284.89", string(appendEpochMillis(nil, 1795710089284890718)))
	require.Equal(t, "0.001", string(appendEpochMillis(nil, 1000)))
}

// FuzzAppendEpochMillis checks appendEpochMillis byte for byte against
// encoding/json's encoding of epochMillis, on any int64 and on today's
// times (the fuzzer's value added to 2026-11-27 keeps it in the range of
// the fast path half the time).
func FuzzAppendEpochMillis(f *testing.F) {
	for _, ns := range epochMillisCases() {
		f.Add(ns, false)
	}
	f.Fuzz(func(t *testing.T, ns int64, today bool) {
		if today {
			ns = 1795710089284890718 + ns%(1<<50)
		}
		want, err := json.Marshal(epochMillis(ns))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendEpochMillis([]byte("x"), ns); string(got[1:]) != string(want) || got[0] != 'x' {
			t.Fatalf("appendEpochMillis(%d) = %q, encoding/json %q", ns, got, want)
		}
	})
}

// BenchmarkAppendEpochMillis writes one timestamp of today as the span logs
// cell did before (ref: appendJSONFloat of epochMillis) and does now.
func BenchmarkAppendEpochMillis(b *testing.B) {
	buf := make([]byte, 0, 64)
	for _, impl := range []struct {
		name string
		fn   func([]byte, int64) []byte
	}{
		{"new", appendEpochMillis},
		{"ref", func(b []byte, ns int64) []byte { return appendJSONFloat(b, epochMillis(ns)) }},
	} {
		b.Run(impl.name, func(b *testing.B) {
			ns := int64(1795710089284890718)
			for i := 0; i < b.N; i++ {
				buf = impl.fn(buf[:0], ns+int64(i)*1_013_017)
			}
		})
	}
}
