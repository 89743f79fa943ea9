package timeline

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode"
)

// FuzzNormalizeBody checks the dedup normaliser on arbitrary text: no
// surrounding space, no whitespace runs, and a body already normal is
// returned unchanged.
func FuzzNormalizeBody(f *testing.F) {
	for _, s := range []string{"", "plain", `"json quoted"`, "  a \t b\n", `"\"nested\""`, `"bad \x"`, "\u00a0x\u2003y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, _ := normalizeBody(s)
		if strings.TrimSpace(got) != got {
			t.Fatalf("untrimmed %q from %q", got, s)
		}
		prev := false
		for _, r := range got {
			sp := unicode.IsSpace(r)
			if sp && (r != ' ' || prev) {
				t.Fatalf("whitespace run in %q from %q", got, s)
			}
			prev = sp
		}
		if _, q := normalizeBody(got); !q {
			if again, _ := normalizeBody(got); again != got {
				t.Fatalf("normal body changed: %q -> %q", got, again)
			}
		}
	})
}

// FuzzMerge builds a small trace and logs from the fuzzer's bytes (parents,
// times, services and span IDs drawn from tiny alphabets so that cycles,
// orphans, ties and duplicates are common) and checks the model's
// invariants (checkModel, checkMergeInvariants); TestMergeGolden pins the
// whole model on saved inputs.
func FuzzMerge(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, []byte{1, 2, 3, 4, 5, 6})
	f.Add([]byte{1, 1, 1, 1, 1, 1}, []byte{0, 0, 0, 0})
	f.Add([]byte{}, []byte{9, 9, 9, 9, 9, 9, 9, 9})
	f.Fuzz(func(t *testing.T, spanBytes, logBytes []byte) {
		ids := []string{"", "a", "b", "c", "d", "e", "f", "g"}
		services := []string{"", "s1", "s2", "s3"}
		tiers := []string{"", TierProxy, TierGo, TierRails, TierMySQL, TierRedis, "weird"}
		tr := &Trace{TraceID: tid}
		for i := 0; i+3 < len(spanBytes) && len(tr.Spans) < 32; i += 4 {
			b := spanBytes[i : i+4]
			start := int64(b[2] % 16)
			tr.Spans = append(tr.Spans, Span{SpanID: ids[1+int(b[0])%7], ParentSpanID: ids[int(b[0]>>3)%8],
				Service: services[int(b[1])%4], Tier: tiers[int(b[1]>>2)%7], StartNs: start,
				EndNs: start + int64(b[3]%16) - 2, StatusCode: int64(b[3]>>6) % 3})
		}
		var sets [][]LogRecord
		var set []LogRecord
		for i := 0; i+2 < len(logBytes) && len(set) < 64; i += 3 {
			b := logBytes[i : i+3]
			if b[0]&0x80 != 0 {
				sets, set = append(sets, set), nil
			}
			trace := ""
			if b[2]&1 == 1 {
				trace = tid
			} else if b[2]&2 == 2 {
				trace = "other"
			}
			set = append(set, LogRecord{TimeNs: int64(b[1]%20)*500_000 - 1_000_000, Body: []string{"x", " x", `"x"`, "y", "x  y", "x y"}[int(b[0])%6],
				SpanID: ids[int(b[2]>>2)%8], Service: services[int(b[2]>>5)%4], Severity: []string{SeverityInfo, SeverityError, SeverityUnknown}[int(b[0]>>3)%3],
				TraceID: trace, Source: fmt.Sprintf("src%d", len(sets))})
		}
		sets = append(sets, set)
		before := cloneSets(sets)
		m := Merge(tr, sets...)
		if !reflect.DeepEqual(before, sets) {
			t.Fatalf("Merge modified its input")
		}
		checkModel(t, m, len(tr.Spans))
		checkMergeInvariants(t, tr, sets, m)
	})
}

// checkModel asserts the invariants every merged model holds.
func checkModel(t *testing.T, m *Model, spans int) {
	t.Helper()
	if len(m.Spans) != spans {
		t.Fatalf("%d spans, want %d", len(m.Spans), spans)
	}
	if len(m.Events) != len(m.Spans)+len(m.Logs) {
		t.Fatalf("%d events for %d spans + %d logs", len(m.Events), len(m.Spans), len(m.Logs))
	}
	for i := 1; i < len(m.Events); i++ {
		a, b := m.Events[i-1], m.Events[i]
		if a.TimeNs > b.TimeNs || (a.TimeNs == b.TimeNs && a.Kind == EventLog && b.Kind == EventSpan) {
			t.Fatalf("events out of order at %d: %+v %+v", i, a, b)
		}
	}
	for i := 1; i < len(m.Spans); i++ {
		if m.Spans[i-1].StartNs > m.Spans[i].StartNs {
			t.Fatalf("spans out of order at %d", i)
		}
	}
	seen := map[int]bool{}
	for si := range m.Spans {
		s := &m.Spans[si]
		if s.Depth < 0 || s.Depth > len(m.Spans) {
			t.Fatalf("span %d depth %d", si, s.Depth)
		}
		if s.SelfNs < 0 || s.SelfNs > s.DurationNs() {
			t.Fatalf("span %d self %d of %d", si, s.SelfNs, s.DurationNs())
		}
		for k, li := range s.Logs {
			if seen[li] || m.Logs[li].AttachedSpanID != s.SpanID {
				t.Fatalf("log %d listed wrongly under span %d", li, si)
			}
			if k > 0 && m.Logs[s.Logs[k-1]].TimeNs > m.Logs[li].TimeNs {
				t.Fatalf("span %d logs out of order", si)
			}
			seen[li] = true
		}
	}
	for li := range m.Logs {
		l := &m.Logs[li]
		if (l.AttachedSpanID != "") != seen[li] || (l.Attach == AttachNone) != (l.AttachedSpanID == "") {
			t.Fatalf("log %d attachment inconsistent: %+v", li, l)
		}
		if l.Tier == "" || len(l.Sources) == 0 {
			t.Fatalf("log %d without tier or source", li)
		}
		for a := range l.Sources {
			for b := a + 1; b < len(l.Sources); b++ {
				if l.Sources[a] == l.Sources[b] {
					t.Fatalf("log %d repeats source %q", li, l.Sources[a])
				}
			}
		}
		if li > 0 && m.Logs[li-1].TimeNs > l.TimeNs {
			t.Fatalf("logs out of order at %d", li)
		}
	}
	if m.Summary == nil {
		t.Fatal("no summary")
	}
	for _, ts := range m.Summary.Tiers {
		if ts.Share < 0 || ts.Tier == "" || ts.Tier == "weird" {
			t.Fatalf("bad tier row %+v", ts)
		}
	}
	crit := 0
	for i := range m.Spans {
		if m.Spans[i].Critical {
			crit++
		}
	}
	if len(m.Spans) > 0 && crit == 0 {
		t.Fatal("no critical path")
	}
}
