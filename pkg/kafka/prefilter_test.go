package kafka

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// multiTraces are the IDs the multi-ID matcher tests search together: the
// golden traces (one without a–f digit), a padded 64-bit ID and two more.
var multiTraces = append(append([]string(nil), goldenTraces...), batchTrace(3), batchTrace(7), batchTrace(8))

// multiInputs are messages naming several of multiTraces at once, in the
// ways the one-ID matcher has to tell apart: IDs inside longer hex runs, two
// IDs glued into one run, upper and mixed case, IDs as trace ID fields and
// in text, in every encoding.
func multiInputs(tb testing.TB) [][]byte {
	a, b, c, d := multiTraces[0], multiTraces[1], multiTraces[2], multiTraces[3]
	quoted, _ := json.Marshal("retry of " + a + " as " + strings.ToUpper(b))
	return [][]byte{
		[]byte("trace_id=" + a + " caused by " + b),
		[]byte("glued " + a + b + " and " + strings.ToUpper(c) + "ff"),
		[]byte("ff" + d + "0 in a longer run; mixed " + strings.ToUpper(a[:16]) + a[16:]),
		[]byte("trace_id=" + d[16:] + " the 64-bit form of " + c),
		[]byte(`{"trace_id":"` + strings.ToUpper(b) + `","msg":"also ` + a + `"}`),
		[]byte(`{"msg":"names ` + a + " and " + c + `","lvl":"warn"}`),
		quoted,
		protoBytes(tb, otlpLogs("svc",
			logSpec{trace: a, body: "names " + b},
			logSpec{body: "no ID, names " + c + " and " + strings.ToUpper(d), at: testBase},
			logSpec{trace: otherTrace, body: "another's " + a},
			logSpec{trace: b, body: map[string]any{"k": a}},
		)),
		jsonBytes(tb, otlpLogs("svc",
			logSpec{trace: c, body: "x"},
			logSpec{body: strings.ToUpper(a) + b},
		)),
		protoBytes(tb, otlpLogs("svc", logSpec{body: "the all-zero ID and " + a})),
		// Forms of trace ID fields the decoders read: base64, mixed case,
		// escaped, 64-bit.
		[]byte(`{"trace":{"id":"` + base64.StdEncoding.EncodeToString(mustRaw(a)) + `"},"message":"ecs"}`),
		[]byte(`{"trace_id":"` + strings.ToUpper(a[:7]) + a[7:] + `","msg":"mixed"}`),
		[]byte(`{"trace_id":"\u00` + fmt.Sprintf("%x", a[0]) + a[1:] + `","msg":"escaped"}`),
		[]byte(`{"trace.id":"` + d[16:] + `"}`),
		[]byte("level=warn TraceID=" + strings.ToUpper(d[16:20]) + d[20:]),
		jsonBytes(tb, otlpLogs("svc", logSpec{trace: b, body: "x"})),
	}
}

func mustRaw(id string) []byte {
	b := make([]byte, 16)
	mustHex(b, id)
	return b
}

// byTraceDecode decodes value with m and returns, per searched trace, its
// records as a search of that trace alone would give them (the trace's ID
// in TraceID), and the error.
func byTraceDecode(dec decodeFunc, value []byte, m *traceMatcher) (map[string][]timeline.LogRecord, error) {
	c := &recordContext{m: m, topic: "t", source: timeline.KafkaSource("t"), partition: 3, offset: 42, kafkaTimeNs: testBase.UnixNano()}
	c.resetHits()
	out, err := dec(nil, append([]byte(nil), value...), c)
	got := map[string][]timeline.LogRecord{}
	for i := range out {
		for _, n := range c.recordIDs(i) {
			rec := out[i]
			rec.TraceID = m.hexOf(n)
			got[rec.TraceID] = append(got[rec.TraceID], rec)
		}
	}
	return got, err
}

// checkMultiMatcher checks that the matcher of ids searched together is the
// one-ID matchers side by side, for every encoding: its prefilter accepts a
// message exactly when one of theirs does, and never rejects one its
// decoder finds records in, and its decoder gives each ID exactly the
// records (and error) that ID's decoder gives.
func checkMultiMatcher(t *testing.T, ids []string, data []byte) {
	t.Helper()
	multi, err := newMultiMatcher(ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range decodeEncodings {
		dec := decoderFor(enc)
		pre := newPrefilter(enc, multi)
		got, gotErr := byTraceDecode(dec, data, multi)
		any := false
		for _, id := range ids {
			one, err := newTraceMatcher(id)
			if err != nil {
				t.Fatal(err)
			}
			p := newPrefilter(enc, one)
			any = any || p.match(data)
			want, wantErr := byTraceDecode(dec, data, one)
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Fatalf("%s %q: error %v searching many, %v searching %s", enc, data, gotErr, wantErr, id)
			}
			if !reflect.DeepEqual(got[id], want[id]) {
				t.Fatalf("%s %q: trace %s:\n many %s\n  one %s", enc, data, id, dumpRecords(got[id]), dumpRecords(want[id]))
			}
		}
		for id := range got {
			if !strings.Contains(strings.Join(ids, " "), id) {
				t.Fatalf("%s %q: a record of %s, not searched", enc, data, id)
			}
		}
		if m := pre.match(data); m != any {
			t.Fatalf("%s %q: the prefilter of many says %v, the one-ID prefilters %v", enc, data, m, any)
		}
		if !any && len(got) > 0 {
			t.Fatalf("%s %q: the prefilter rejects a message with records of %v", enc, data, slices.Collect(maps.Keys(got)))
		}
	}
}

// TestMultiMatcherIsEachIDsMatcher runs checkMultiMatcher on the saved
// decoder inputs and on messages naming several traces, searching all of
// multiTraces, and pairs of them.
func TestMultiMatcherIsEachIDsMatcher(t *testing.T) {
	inputs := append(decodeInputs(t), multiInputs(t)...)
	zeros := strings.Repeat("0", 32)
	for _, data := range inputs {
		checkMultiMatcher(t, multiTraces, data)
		checkMultiMatcher(t, multiTraces[:2], data)
		checkMultiMatcher(t, []string{multiTraces[2], zeros}, data)
	}
	// The multi path is the one taken: the inputs hold records of several
	// traces at once, and lines naming two get both.
	m, err := newMultiMatcher(multiTraces)
	if err != nil {
		t.Fatal(err)
	}
	got, err := byTraceDecode(decodeText, multiInputs(t)[1], m)
	if err != nil || len(got) != 3 {
		t.Fatalf("a line naming three traces: %v, %v", got, err)
	}
}

// FuzzMultiMatcher is checkMultiMatcher on arbitrary messages.
func FuzzMultiMatcher(f *testing.F) {
	for _, s := range append(decodeInputs(f), multiInputs(f)...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkMultiMatcher(t, multiTraces, data) })
}

// TestHexWindow: hexWindow finds every 32-byte all-hex window, in order,
// whatever the runs around it.
func TestHexWindow(t *testing.T) {
	for _, s := range []string{"", "abc", strings.Repeat("a", 31), strings.Repeat("F", 32), "x" + strings.Repeat("0", 40) + "g" + strings.Repeat("e", 33),
		strings.Repeat("a", 31) + "z" + strings.Repeat("a", 32)} {
		var want, got []int
		for i := 0; i+32 <= len(s); i++ {
			if strings.Trim(s[i:i+32], "0123456789abcdefABCDEF") == "" {
				want = append(want, i)
			}
		}
		for i := hexWindow(s, 0); i >= 0; i = hexWindow(s, i+1) {
			got = append(got, i)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: windows %v, want %v", s, got, want)
		}
	}
}
