package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
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

// The -update flag rewrites testdata/decode.golden.txt from the live
// decoders; it defaults to false so a change of behaviour fails until it is
// reviewed.
var update = flag.Bool("update", false, "rewrite the golden files of pkg/kafka")

// goldenTraces are the searched traces: the fixtures' trace, another one,
// and one without hex letters (no upper-case form).
var goldenTraces = []string{testTrace, otherTrace, "12345678901234567890123456789012"}

// decodeEncodings are the encodings in the order of the golden file.
var decodeEncodings = []string{models.EncodingOTLPProto, models.EncodingOTLPJSON, models.EncodingRaw, models.EncodingJSON, models.EncodingText}

// decodeInputs reads testdata/decode_inputs.txt: one Go-quoted record value
// a line (the file says what they are).
func decodeInputs(tb testing.TB) [][]byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "decode_inputs.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := strconv.Unquote(line)
		if err != nil {
			tb.Fatalf("decode_inputs.txt:%d: %v", i+1, err)
		}
		out = append(out, []byte(s))
	}
	if len(out) == 0 {
		tb.Fatal("decode_inputs.txt holds no input")
	}
	return out
}

// decodeCtx is the record context of the tests: topic t, partition 3,
// offset 42, searching goldenTraces[sel%3].
func decodeCtx(tb testing.TB, sel uint8) *recordContext {
	m, err := newTraceMatcher(goldenTraces[int(sel)%len(goldenTraces)])
	if err != nil {
		tb.Fatal(err)
	}
	return &recordContext{m: m, topic: "t", source: timeline.KafkaSource("t"), partition: 3, offset: 42, kafkaTimeNs: testBase.UnixNano()}
}

// checkDecode runs dec on data and checks what every decoder keeps, whatever
// the input: sel picks the searched trace (sel%3) and whether dst already
// holds a record (sel&4). It returns the records decoded into an empty dst.
//   - the input is not modified, and no record shares its bytes (the
//     reader's fetch buffers are reused);
//   - the prefilter of the decoder's encoding accepts a message with records;
//   - an error wraps errUndecodable and comes with no record;
//   - records already in dst are kept, and the ones appended are those an
//     empty dst receives (same records, same error);
//   - only records of the searched trace, with 16-lower-hex span IDs, valid
//     UTF-8 bodies, services and labels, a normalised severity, and the ID
//     "<topic>/<partition>/<offset>/<index>" and source of the topic.
func checkDecode(t *testing.T, dec decodeFunc, data []byte, sel uint8) []timeline.LogRecord {
	t.Helper()
	c := decodeCtx(t, sel)
	buf := append([]byte(nil), data...)
	got, err := dec(nil, buf, c)
	if string(buf) != string(data) {
		t.Fatalf("the decoder changed its input %q", data)
	}
	before := dumpRecords(got)
	for i := range buf {
		buf[i] = '#'
	}
	if after := dumpRecords(got); after != before {
		t.Fatalf("input %q: a record shares the message's bytes:\n before %s\n after %s", data, before, after)
	}
	if pre := newPrefilter(encodingOf(dec), c.m); len(got) > 0 && !pre.match(data) {
		t.Fatalf("input %q: the prefilter rejects a message with records of the trace", data)
	}
	if err != nil && (!errors.Is(err, errUndecodable) || len(got) > 0) {
		t.Fatalf("input %q: error %v (must wrap errUndecodable) with %d records", data, err, len(got))
	}
	if sel&4 != 0 {
		prior := []timeline.LogRecord{{Body: "prior", ID: "t/3/41/0"}}
		withPrior, errPrior := dec(prior, append([]byte(nil), data...), c)
		if fmt.Sprint(errPrior) != fmt.Sprint(err) {
			t.Fatalf("input %q: error %v after a record, %v alone", data, errPrior, err)
		}
		want := append([]timeline.LogRecord{{Body: "prior", ID: "t/3/41/0"}}, got...)
		if err != nil {
			want = want[:1]
		}
		if !reflect.DeepEqual(withPrior, want) {
			t.Fatalf("input %q: after a record in dst:\n got %s\nwant %s", data, dumpRecords(withPrior), dumpRecords(want))
		}
	}
	for k, r := range got {
		if r.TraceID != c.m.ids[0].hex {
			t.Fatalf("input %q: record of trace %q searching %s", data, r.TraceID, c.m.ids[0].hex)
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
		if r.ID != "t/3/42/"+strconv.Itoa(k) || r.Source != "kafka:t" {
			t.Fatalf("record %d: ID %q source %q", k, r.ID, r.Source)
		}
	}
	return got
}

// encodingOf is the encoding whose decoder dec is.
func encodingOf(dec decodeFunc) string {
	for _, enc := range decodeEncodings {
		if reflect.ValueOf(decoderFor(enc)).Pointer() == reflect.ValueOf(dec).Pointer() {
			return enc
		}
	}
	panic("not a decoder")
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

// renderRecord is a record as the golden file shows it: its JSON, with nil
// and empty labels told apart.
func renderRecord(tb testing.TB, r timeline.LogRecord) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // syslog lines start with <PRI>
	if err := enc.Encode(r); err != nil {
		tb.Fatal(err)
	}
	out := strings.TrimSuffix(buf.String(), "\n")
	if r.Labels != nil && len(r.Labels) == 0 {
		out += " (empty labels)"
	}
	return out
}

// TestDecodeGolden runs every decoder on every saved input, searching each
// of goldenTraces, checks checkDecode's invariants (with and without a
// record already in dst) and pins the records and errors in
// testdata/decode.golden.txt: a deliberate change of a decoder's output
// updates that one file (go test ./pkg/kafka -run TestDecodeGolden -update).
func TestDecodeGolden(t *testing.T) {
	inputs := decodeInputs(t)
	var b strings.Builder
	for _, enc := range decodeEncodings {
		dec := decoderFor(enc)
		for i, data := range inputs {
			var lines []string
			for k := range goldenTraces {
				checkDecode(t, dec, data, uint8(k)|4)
				recs, err := dec(nil, append([]byte(nil), data...), decodeCtx(t, uint8(k)))
				if err != nil {
					lines = append(lines, fmt.Sprintf("  trace %d: error %q", k, err))
				}
				for _, r := range recs {
					lines = append(lines, fmt.Sprintf("  trace %d: %s", k, renderRecord(t, r)))
				}
			}
			if len(lines) == 0 {
				fmt.Fprintf(&b, "%s input %d: no records\n", enc, i+1)
				continue
			}
			fmt.Fprintf(&b, "%s input %d:\n%s\n", enc, i+1, strings.Join(lines, "\n"))
		}
	}
	path := filepath.Join("testdata", "decode.golden.txt")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run go test ./pkg/kafka -run TestDecodeGolden -update", err)
	}
	if got := b.String(); got != string(want) {
		g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(g) || i < len(w); i++ {
			if i >= len(g) || i >= len(w) || g[i] != w[i] {
				t.Fatalf("the decoders no longer give testdata/decode.golden.txt; first difference at line %d:\n got  %s\n want %s\n"+
					"If the change is deliberate, review it and run go test ./pkg/kafka -run TestDecodeGolden -update",
					i+1, lineAt(g, i), lineAt(w, i))
			}
		}
	}
}

func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(end of file)"
}

// TestDecodeInvariants runs checkDecode on every saved input with every
// decoder and every sel, in the plain test run.
func TestDecodeInvariants(t *testing.T) {
	for _, enc := range decodeEncodings {
		for _, data := range decodeInputs(t) {
			for sel := range uint8(8) {
				checkDecode(t, decoderFor(enc), data, sel)
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

// FuzzDecodeJSONGen checks the JSON decoder (and the raw decoder's object
// path) on generated objects.
func FuzzDecodeJSONGen(f *testing.F) {
	for i := range 64 {
		f.Add([]byte{byte(i), 5, 4, 0, 1, 8, byte(i * 7), 3, 0, 9, 2, 17, 0, 33, 1, 0, 12, 0, 5, 4, 19, 2, 40, 0, 11})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v := genJSON(data)
		var sel uint8
		if len(data) > 0 {
			sel = data[len(data)-1]
		}
		checkDecode(t, decodeJSON, v, sel)
		checkDecode(t, decodeRaw, v, sel)
	})
}
