package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// The equality fuzzers hold each live decoder to its snapshot in
// decode_ref_test.go: the same records (every field, nil and empty labels
// told apart) and the same error text, for every input, whatever the
// searched trace, with and without records already in dst, and with no
// record aliasing the message bytes (the reader's fetch buffers are reused).

// equalTraces are the searched traces the fuzzers pick from: the fixtures'
// trace, another one, and one without hex letters (no upper-case form).
var equalTraces = []string{testTrace, otherTrace, "12345678901234567890123456789012"}

// checkDecodeEqual runs dec and ref on the same message; sel picks the
// searched trace (sel%3) and whether dst already holds a record (sel&4).
func checkDecodeEqual(t *testing.T, dec, ref decodeFunc, data []byte, sel uint8) {
	t.Helper()
	m, err := newTraceMatcher(equalTraces[int(sel)%len(equalTraces)])
	if err != nil {
		t.Fatal(err)
	}
	c := &recordContext{m: m, topic: "t", source: timeline.KafkaSource("t"), partition: 3, offset: 42, kafkaTimeNs: testBase.UnixNano()}
	prior := func() []timeline.LogRecord {
		if sel&4 == 0 {
			return nil
		}
		return []timeline.LogRecord{{Body: "prior", ID: "t/3/41/0"}}
	}
	want, wantErr := ref(prior(), append([]byte(nil), data...), c)
	buf := append([]byte(nil), data...)
	got, gotErr := dec(prior(), buf, c)
	if string(buf) != string(data) {
		t.Fatalf("the decoder changed its input")
	}
	for i := range buf {
		buf[i] = '#' // a record must not share the message's bytes
	}
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && (gotErr.Error() != wantErr.Error() || !errors.Is(gotErr, errUndecodable))) {
		t.Fatalf("input %q: error %v, reference %v", data, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("input %q (trace %s, dst %d):\n got %s\nwant %s", data, m.hex, len(prior()), dumpRecords(got), dumpRecords(want))
	}
}

func dumpRecords(recs []timeline.LogRecord) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "\n  %#v", r)
	}
	if recs == nil {
		b.WriteString("nil")
	}
	return b.String()
}

// readFuzzCorpus returns the []byte inputs stored in testdata/fuzz/<target>.
func readFuzzCorpus(tb testing.TB, target string) [][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if q, ok := strings.CutPrefix(line, "[]byte("); ok && strings.HasSuffix(q, ")") {
				s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
				if err != nil {
					tb.Fatalf("%s: %v", f, err)
				}
				out = append(out, []byte(s))
			}
		}
	}
	return out
}

// equalSeeds are the seeds of every equality fuzzer: the seeds and stored
// corpora of the existing decoder fuzzers (each decoder also meets the other
// encodings' messages: a raw topic holds JSON and text), the JSON parser's
// corpus, the benchmark messages and a few edge cases of the fast paths.
func equalSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	for _, fn := range []func(testing.TB) [][]byte{fuzzSeedsOTLPProto, fuzzSeedsOTLPJSON, fuzzSeedsRaw, fuzzSeedsJSON, fuzzSeedsText} {
		seeds = append(seeds, fn(tb)...)
	}
	for _, target := range []string{"FuzzDecodeOTLPProto", "FuzzDecodeOTLPJSON", "FuzzDecodeRaw", "FuzzDecodeJSON", "FuzzDecodeText", "FuzzParseJSONObject"} {
		seeds = append(seeds, readFuzzCorpus(tb, target)...)
	}
	for _, s := range append(append([]string(nil), jsonParseCorpus...), jsonParseBad...) {
		seeds = append(seeds, []byte(s))
	}
	for _, enc := range []string{models.EncodingOTLPProto, models.EncodingOTLPJSON, models.EncodingRaw, models.EncodingJSON, models.EncodingText} {
		for _, msg := range benchMessages(tb)[enc] {
			seeds = append(seeds, msg.value)
		}
	}
	q := func(s string) []byte { b, _ := json.Marshal(s); return b }
	tr := testTrace
	for _, s := range []string{
		`"` + tr + `"`, ` "` + tr + "\" \n", `"` + tr + `" x`, `"` + tr, `"` + tr + `\"`, `"a"b"` + tr + `"`,
		"\"\x01" + tr + "\"", "\"\xff" + tr + "\"", "\"\u00e9\ufffd" + tr + "\"", `"\u00e9 ` + tr + `"`, "\u00a0\"" + tr + "\"\u0085",
		`{"msg":"` + tr + `","msg":"again"}`, `{"a":{"b":1},"a":2,"m":"` + tr + `"}`, `{"a":null,"a":"x","m":"` + tr + `"}`,
		`{"a-b":1,"a":{"c":2},"a.b":3,"":{"x":4},"m":"` + tr + `"}`, `{"TRACE_ID":"` + strings.ToUpper(tr) + `","Msg":"x"}`,
		`{"trace\u005fid":"` + tr + `","m\u0073g":"\ud83d\ude00 \ud800 \ud800\u0041 \ud800\n"}`, "{\"m\":\"\\n\x01" + tr + "\"}", "{\"m\":\"\x01\\n" + tr + "\"}",
		`{"t":["a",{"b":null,"c":[1.5e3,true]},"<&>"],"m":"` + tr + `"}`, `{"m":"` + tr + `","n":-0.0e-0,"b":false,"z":null} junk`,
		`{"m":"` + tr + `",null:1}`, `{"m":"` + tr + `","x":tru}`, `{"m":"` + tr + `","x":1.}`, `{"m":"` + tr + `"`, `{"m":"` + tr + `",}`,
		`{"tİme":"2026-11-14T10:00:02Z","ſervice":"s","m":"` + tr + `"}`, `{"time":"2026-11-14T10:00:02Z","K":"\u212a","m":"` + tr + `"}`,
		"{\"\xff\":\"\xfe\",\"m\":\"" + tr + "\"}", `{"level":"WARN","lvl":30,"severity":2,"m":"` + tr + `"}`,
		`{"trace_id":"` + tr[:16] + `","msg":"` + tr + `"}`, `{"trace":{"id":"S/kvNXezTaajzpKdDg5HNg=="},"trace_id":"x"}`,
		"<13>" + tr + " INFO", "TraceID=" + strings.ToUpper(tr) + " Level=Error SPAN_ID=00F067AA0BA90201", "\xc3" + tr + " Ünïcode ERROR",
	} {
		seeds = append(seeds, []byte(s), q(s))
	}
	return seeds
}

func fuzzDecodeEqual(f *testing.F, dec, ref decodeFunc) {
	for i, s := range equalSeeds(f) {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) { checkDecodeEqual(t, dec, ref, data, sel) })
}

func FuzzDecodeJSONEqual(f *testing.F)      { fuzzDecodeEqual(f, decodeJSON, refDecodeJSON) }
func FuzzDecodeRawEqual(f *testing.F)       { fuzzDecodeEqual(f, decodeRaw, refDecodeRaw) }
func FuzzDecodeTextEqual(f *testing.F)      { fuzzDecodeEqual(f, decodeText, refDecodeText) }
func FuzzDecodeOTLPProtoEqual(f *testing.F) { fuzzDecodeEqual(f, decodeOTLPProto, refDecodeOTLPProto) }
func FuzzDecodeOTLPJSONEqual(f *testing.F)  { fuzzDecodeEqual(f, decodeOTLPJSON, refDecodeOTLPJSON) }

// TestDecodersMatchReference runs every decoder on every seed with every
// searched trace, in the plain test run.
func TestDecodersMatchReference(t *testing.T) {
	for _, enc := range []string{models.EncodingOTLPProto, models.EncodingOTLPJSON, models.EncodingRaw, models.EncodingJSON, models.EncodingText} {
		ref := map[string]decodeFunc{
			models.EncodingOTLPProto: refDecodeOTLPProto, models.EncodingOTLPJSON: refDecodeOTLPJSON,
			models.EncodingRaw: refDecodeRaw, models.EncodingJSON: refDecodeJSON, models.EncodingText: refDecodeText,
		}[enc]
		for _, s := range equalSeeds(t) {
			for sel := range uint8(8) {
				checkDecodeEqual(t, decoderFor(enc), ref, s, sel)
			}
		}
	}
}

// FuzzUnquoteString: whatever unquoteString reads, encoding/json reads the
// same; and it reads every valid string without \u escapes or surrounding
// space (the surrogate escapes are left to encoding/json).
func FuzzUnquoteString(f *testing.F) {
	for _, s := range []string{
		`""`, `"a"`, `"\u003c14\u003e1 x \u0026 y"`, `"\"q\" \\ \/ \b\f\n\r\t"`, `"\u00e9\u00E9\u20ac\u0000"`, `"é€😀"`,
		`"\ud83d\ude00"`, `"\ud800"`, `"\u12"`, `"\u12g4"`, `"\x"`, `"a\"`, `"a"b"`, "\"\x01\"", "\"\xff\"", `"\`, `"`, `x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		got, ok := unquoteString(v)
		var want string
		err := json.Unmarshal(v, &want)
		if ok && (err != nil || got != want) {
			t.Fatalf("%q: unquoteString %q, encoding/json %q, %v", v, got, want, err)
		}
		plain := len(v) >= 2 && utf8.Valid(v) && !bytes.Contains(v, []byte(`\u`)) && v[0] == '"' && v[len(v)-1] == '"'
		if err == nil && !ok && plain {
			t.Fatalf("%q: unquoteString refused what encoding/json reads", v)
		}
	})
}

// genJSON writes a JSON object driven by the bytes of data, from pools of
// keys and values that exercise the json decoder's paths: role keys in any
// case, dotted and empty keys, duplicates, escapes, arrays, nesting, and a
// few broken pieces. Random bytes rarely form an object the fast scanner
// reads to the end; these mostly do.
func genJSON(data []byte) []byte {
	keys := []string{"trace_id", "TraceID", "trace", "id", "msg", "Message", "time", "ts", "@timestamp", "level", "LVL", "severity",
		"span_id", "SpanId", "service", "name", "a", "a.b", "a-b", "", "b", "t\u0130me", "\u212a", `m\u0073g`, `x\"y`, "\xff", "dup", "dup"}
	values := []string{`"` + testTrace + `"`, `"` + strings.ToUpper(testTrace) + `"`, `"` + otherTrace + `"`, `"S/kvNXezTaajzpKdDg5HNg=="`,
		`"00f067aa0ba90201"`, `"2026-11-14T10:00:02.125Z"`, `"1794650402.5"`, `"error"`, `"WARN"`, `"x \" \\ \/ \n \u00e9 \ud83d\ude00 \ud800 \u0041"`,
		"\"\xff\xfe\"", "\"a\x01b\"", "\"\\n\x01\"", `"<&>"`, `1794650402123`, `1794650402.125`, `-0.5e+3`, `30`, `1e400`, `0`, `01`, `1.`, `-`,
		`true`, `false`, `null`, `tru`, `[]`, `[1,"two",true,null,{"b":[{}]}]`, `["<&>","\u00e9",1e3]`, `[1,]`, `[`, `{}`, `["db","slow"]`, "[ \"a b\" ,\t-1.5e3\n, true,null,\"\x7f\u00e9\"]",
		"[\"\u2028\"]", "[\"\xff\"]", `["a\"b"]`, `["<"]`, `[ ]`, `[[]]`, `[01]`, `[1 2]`, `[tru]`, `"` + testTrace + ` in text"`}
	spaces := []string{"", " ", "\n\t", "\r "}
	var b strings.Builder
	pos := 0
	next := func() int {
		if pos >= len(data) {
			return 0
		}
		pos++
		return int(data[pos-1])
	}
	var object func(depth int)
	object = func(depth int) {
		b.WriteString("{" + spaces[next()%len(spaces)])
		n := next() % 6
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString("," + spaces[next()%len(spaces)])
			}
			b.WriteString(`"` + keys[next()%len(keys)] + `"` + spaces[next()%len(spaces)] + ":")
			if v := next(); v%8 == 0 && depth < 4 {
				object(depth + 1)
			} else {
				b.WriteString(values[v%len(values)])
			}
			b.WriteString(spaces[next()%len(spaces)])
		}
		b.WriteString("}")
	}
	object(0)
	if next()%4 == 0 {
		b.WriteString(" trailing")
	}
	return []byte(b.String())
}

// FuzzDecodeJSONEqualGen is FuzzDecodeJSONEqual (and the raw decoder's
// object path) on generated objects.
func FuzzDecodeJSONEqualGen(f *testing.F) {
	for i := range 64 {
		f.Add([]byte{byte(i), 5, 4, 0, 1, 8, byte(i * 7), 3, 0, 9, 2, 17, 0, 33, 1, 0, 12, 0, 5, 4, 19, 2, 40, 0, 11})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v := genJSON(data)
		var sel uint8
		if len(data) > 0 {
			sel = data[len(data)-1]
		}
		checkDecodeEqual(t, decodeJSON, refDecodeJSON, v, sel)
		checkDecodeEqual(t, decodeRaw, refDecodeRaw, v, sel)
	})
}
