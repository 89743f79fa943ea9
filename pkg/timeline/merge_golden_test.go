package timeline

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The -update flag rewrites testdata/merge.golden.txt from the live Merge; it
// defaults to false so a change of behaviour fails until it is reviewed.
var update = flag.Bool("update", false, "rewrite the golden files of pkg/timeline")

// mergeCase is one saved Merge input.
type mergeCase struct {
	Name    string        `json:"name"`
	Trace   *Trace        `json:"trace"`
	LogSets [][]LogRecord `json:"logSets"`
}

// mergeCases reads the saved inputs: merge_recorded.json holds the recorded
// Tempo fixture trace (tiers assigned by the default rules) with the
// recorded Loki answers as pkg/loki decodes them, and those lines again as a
// Kafka topic holds them (time cut to the millisecond); merge_generated.json
// holds inputs drawn once by randomMergeInput, whose small alphabets make
// ties, duplicates in every body form, cycles and orphans common.
func mergeCases(t testing.TB) []mergeCase {
	t.Helper()
	var all []mergeCase
	for _, name := range []string{"merge_recorded.json", "merge_generated.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		var cases []mergeCase
		require.NoError(t, json.Unmarshal(b, &cases), name)
		require.NotEmpty(t, cases, name)
		all = append(all, cases...)
	}
	return all
}

// renderModel writes a model one span, log and event per line, so a change
// of behaviour shows as a short diff of the golden file.
func renderModel(t testing.TB, b *strings.Builder, m *Model) {
	t.Helper()
	line := func(kind string, v any) {
		j, err := json.Marshal(v)
		require.NoError(t, err)
		fmt.Fprintf(b, "%s %s\n", kind, j)
	}
	line("model", map[string]any{"traceId": m.TraceID, "startNs": m.StartNs, "endNs": m.EndNs})
	for _, s := range m.Spans {
		line("span", s)
	}
	for _, l := range m.Logs {
		line("log", l)
	}
	for _, e := range m.Events {
		fmt.Fprintf(b, "event %s %d %d\n", e.Kind, e.TimeNs, e.Index)
	}
	line("summary", m.Summary)
}

// TestMergeGolden pins Merge's whole model (span order, depths, dedup,
// attachment, tiers, events, summary) on the saved inputs.
func TestMergeGolden(t *testing.T) {
	var b strings.Builder
	for _, c := range mergeCases(t) {
		before := cloneSets(c.LogSets)
		m := Merge(c.Trace, c.LogSets...)
		require.Equal(t, before, c.LogSets, "%s: inputs modified", c.Name)
		spans := 0
		if c.Trace != nil {
			spans = len(c.Trace.Spans)
		}
		checkModel(t, m, spans)
		checkMergeInvariants(t, c.Trace, c.LogSets, m)
		fmt.Fprintf(&b, "# %s\n", c.Name)
		renderModel(t, &b, m)
		b.WriteString("\n")
	}
	path := filepath.Join("testdata", "merge.golden.txt")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./pkg/timeline -run TestMergeGolden -update")
	if string(want) != b.String() {
		gotLines, wantLines := strings.Split(b.String(), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gotLines), len(wantLines)) {
			g, w := at(gotLines, i), at(wantLines, i)
			if g != w {
				t.Fatalf("Merge no longer gives testdata/merge.golden.txt; first difference at line %d:\n got  %s\n want %s\n"+
					"If the change is deliberate, review it and run go test ./pkg/timeline -run TestMergeGolden -update", i+1, g, w)
			}
		}
	}
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(end of file)"
}

// dedupKeyOf is the identity Merge deduplicates lines by: trace (the
// model's when the line has none), millisecond and normalised body.
func dedupKeyOf(r *LogRecord, traceID string) dedupKey {
	body, _ := normalizeBody(r.Body)
	msec := r.TimeNs / 1e6
	if r.TimeNs%1e6 < 0 {
		msec--
	}
	return dedupKey{trace: cmp.Or(r.TraceID, traceID), ms: msec, body: body}
}

// checkMergeInvariants holds a merged model to the rules of Merge that
// checkModel does not state: it is deterministic, each input line's
// identity stands for exactly one log, which lists the sources that line
// came from in input order; depths follow the parents; spans are ordered by
// start, depth and ID; an attached log sits in its span by ID or by service
// and time, and takes its tier.
func checkMergeInvariants(t *testing.T, tr *Trace, sets [][]LogRecord, m *Model) {
	t.Helper()
	if again := Merge(tr, cloneSets(sets)...); !reflect.DeepEqual(again, m) {
		t.Fatalf("Merge is not deterministic")
	}
	var order []dedupKey
	sources := map[dedupKey][]string{}
	for _, set := range sets {
		for i := range set {
			k := dedupKeyOf(&set[i], m.TraceID)
			if _, ok := sources[k]; !ok {
				order = append(order, k)
				sources[k] = nil
			}
			if s := set[i].Source; s != "" && !slices.Contains(sources[k], s) {
				sources[k] = append(sources[k], s)
			}
		}
	}
	if len(m.Logs) != len(order) {
		t.Fatalf("%d logs for %d distinct lines", len(m.Logs), len(order))
	}
	seen := map[dedupKey]bool{}
	for i := range m.Logs {
		l := &m.Logs[i]
		k := dedupKeyOf(l.LogRecord, m.TraceID)
		want, ok := sources[k]
		if !ok || seen[k] {
			t.Fatalf("log %d (%+v): not an input line, or listed twice", i, *l.LogRecord)
		}
		seen[k] = true
		if !slices.Equal(l.Sources, want) && !(len(want) == 0 && len(l.Sources) == 0) {
			t.Fatalf("log %d sources %q, want %q", i, l.Sources, want)
		}
	}
	byID := map[string][]int{}
	for i := range m.Spans {
		byID[m.Spans[i].SpanID] = append(byID[m.Spans[i].SpanID], i)
	}
	for i := range m.Spans {
		s := &m.Spans[i]
		if i > 0 {
			p := &m.Spans[i-1]
			if cmp.Or(cmp.Compare(p.StartNs, s.StartNs), cmp.Compare(p.Depth, s.Depth), cmp.Compare(p.SpanID, s.SpanID)) > 0 {
				t.Fatalf("spans %d and %d out of (start, depth, id) order", i-1, i)
			}
		}
		if s.Depth > 0 {
			ok := false
			for _, j := range byID[s.ParentSpanID] {
				ok = ok || m.Spans[j].Depth == s.Depth-1
			}
			if s.ParentSpanID == "" || !ok {
				t.Fatalf("span %d at depth %d has no parent at depth %d", i, s.Depth, s.Depth-1)
			}
		} else if s.Depth < 0 {
			t.Fatalf("span %d depth %d", i, s.Depth)
		}
		wantErr := s.StatusCode == StatusError
		for _, li := range s.Logs {
			wantErr = wantErr || IsErrorSeverity(m.Logs[li].Severity)
		}
		if s.Error != wantErr {
			t.Fatalf("span %d error flag %v, want %v", i, s.Error, wantErr)
		}
	}
	for i := range m.Logs {
		l := &m.Logs[i]
		if l.AttachedSpanID == "" {
			continue
		}
		if l.TraceID != "" && m.TraceID != "" && l.TraceID != m.TraceID {
			t.Fatalf("log %d of trace %q attached in trace %q", i, l.TraceID, m.TraceID)
		}
		var span *SpanNode
		for _, j := range byID[l.AttachedSpanID] {
			if slices.Contains(m.Spans[j].Logs, i) {
				span = &m.Spans[j]
			}
		}
		if span == nil {
			t.Fatalf("log %d attached to %q, which does not list it", i, l.AttachedSpanID)
		}
		switch l.Attach {
		case AttachSpanID:
			if l.SpanID != span.SpanID {
				t.Fatalf("log %d attached by span ID %q to %q", i, l.SpanID, span.SpanID)
			}
		case AttachTime:
			if l.Service != span.Service || l.TimeNs < span.StartNs || l.TimeNs > span.EndNs {
				t.Fatalf("log %d (%s at %d) attached by time to span %s of %s [%d, %d]", i, l.Service, l.TimeNs, span.SpanID, span.Service, span.StartNs, span.EndNs)
			}
		default:
			t.Fatalf("log %d attached with %q", i, l.Attach)
		}
		if l.Tier != tierName(span.Tier) {
			t.Fatalf("log %d tier %q, its span's %q", i, l.Tier, tierName(span.Tier))
		}
	}
}

// randomMergeInput draws a trace and log sets from small alphabets so that
// equal times, duplicate lines (across and within sources, in every body
// form), shared span IDs, cycles and orphans are common. Some sets are in
// time order, as upstreams return them, some in a few ordered runs, some
// shuffled; big sets exercise the unordered-input path of the sort.
func randomMergeInput(rng *rand.Rand) (*Trace, [][]LogRecord) {
	ids := []string{"", "a", "b", "c", "d", "e", "f", "g", "h"}
	services := []string{"", "s1", "s2", "s3"}
	tiers := []string{"", TierProxy, TierGo, TierRails, TierMySQL, TierRedis}
	traces := []string{"", tid, tid, "other"}
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }

	var tr *Trace
	if rng.IntN(8) > 0 {
		tr = &Trace{TraceID: pick(traces[:2])}
		for range rng.IntN(24) {
			start := int64(rng.IntN(12)) * 500_000
			tr.Spans = append(tr.Spans, Span{TraceID: tid, SpanID: pick(ids[1:]), ParentSpanID: pick(ids),
				Service: pick(services), Tier: pick(tiers), StartNs: start, EndNs: start + int64(rng.IntN(14)-2)*500_000,
				StatusCode: int64(rng.IntN(3))})
		}
	}
	bodies := []string{"x", " x", "x\n", `"x"`, `" x "`, "x y", "x  y", "x\ty", `"x y"`, "y", `"\"y\""`, "z"}
	severities := []string{SeverityInfo, SeverityError, SeverityCritical, SeverityUnknown, ""}
	size := 40
	if rng.IntN(6) == 0 {
		size = 400
	}
	sets := make([][]LogRecord, 1+rng.IntN(4))
	for s := range sets {
		source := fmt.Sprintf("kafka:t%d", s)
		if s == 0 {
			source = SourceLoki
		}
		set := make([]LogRecord, rng.IntN(size+1))
		for i := range set {
			src := source
			switch rng.IntN(10) {
			case 0:
				src = "kafka:redelivered"
			case 1:
				src = SourceLoki
			}
			set[i] = LogRecord{TimeNs: int64(rng.IntN(16)-2)*400_000 + int64(rng.IntN(3)), Body: pick(bodies),
				Severity: pick(severities), TraceID: pick(traces), SpanID: pick(ids), Service: pick(services),
				Source: src, ID: fmt.Sprint(s, "/", i)}
		}
		byTime := func(a, b LogRecord) int { return cmp.Compare(a.TimeNs, b.TimeNs) }
		switch rng.IntN(3) {
		case 0:
			slices.SortStableFunc(set, byTime)
		case 1: // a few ordered runs, as from several streams or partitions
			for lo := 0; lo < len(set); {
				hi := min(len(set), lo+1+rng.IntN(len(set)/2+1))
				slices.SortStableFunc(set[lo:hi], byTime)
				lo = hi
			}
		}
		sets[s] = set
	}
	return tr, sets
}

func cloneSets(sets [][]LogRecord) [][]LogRecord {
	out := make([][]LogRecord, len(sets))
	for i, s := range sets {
		out[i] = slices.Clone(s)
	}
	return out
}

// TestMergeInvariants holds Merge to its invariants on 3000 random inputs,
// some with 400-line sets that take the unordered-input path of the sort.
func TestMergeInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 3000 {
		tr, sets := randomMergeInput(rng)
		before := cloneSets(sets)
		m := Merge(tr, sets...)
		require.Equal(t, before, sets, "case %d: inputs modified", n)
		spans := 0
		if tr != nil {
			spans = len(tr.Spans)
		}
		checkModel(t, m, spans)
		checkMergeInvariants(t, tr, sets, m)
	}
}

// TestDedupLogsHashCollisions keeps 2 bits of the line hash, so nearly every
// lookup collides and the exact-key confirmation and overflow map decide:
// the result must be the full hash's.
func TestDedupLogsHashCollisions(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 1000 {
		_, sets := randomMergeInput(rng)
		traceID := []string{"", tid}[n%2]
		require.Equal(t, dedupLogs(traceID, sets), dedupLogsMasked(traceID, sets, 3), "case %d", n)
	}
}
