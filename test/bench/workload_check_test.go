package bench

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/traceweave/traceweave/pkg/kafka"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/tempo"
)

// fieldNumbers lists the top-level protobuf field numbers of a message.
func fieldNumbers(t *testing.T, b []byte) []protowire.Number {
	t.Helper()
	var out []protowire.Number
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatal(protowire.ParseError(n))
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			t.Fatal(protowire.ParseError(m))
		}
		b = b[m:]
		out = append(out, num)
	}
	return out
}

// TestTempoAnswerShape checks the generated Tempo answers have the envelope
// of the recorded Tempo v3.0.3 answer and decode to every span.
func TestTempoAnswerShape(t *testing.T) {
	rec, err := readFixture("tempo_trace_v2.pb")
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := tempoMetrics()
	if err != nil {
		t.Fatal(err)
	}
	tc := newCases(newTestRand())[caseName(1_000, 1_000)]
	if err := tc.buildSpans(metrics); err != nil {
		t.Fatal(err)
	}
	want, got := fieldNumbers(t, rec), fieldNumbers(t, tc.tempoBody)
	if len(want) != len(got) || want[0] != got[0] || want[1] != got[1] {
		t.Fatalf("field numbers %v, recorded answer has %v", got, want)
	}
	res, err := tempo.Decode(tempo.APIv2, "application/protobuf", tc.tempoBody)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Trace.Spans) != tc.spans {
		t.Fatalf("%d spans, want %d", len(res.Trace.Spans), tc.spans)
	}
}

// jsonKeys returns the sorted keys of a JSON object.
func jsonKeys(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestLokiAnswerShape checks a page of the fake Loki against the recorded
// Loki v3.7.6 categorize-labels answer (same keys down to a value's
// metadata) and that it pages by limit and end-exclusive time.
func TestLokiAnswerShape(t *testing.T) {
	tc := newCases(newTestRand())[caseName(10, 1_000)]
	metrics, err := tempoMetrics()
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.buildSpans(metrics); err != nil {
		t.Fatal(err)
	}
	vals := tc.lokiValues()
	errs := &upstreamErrors{}
	s := newLokiServer(map[string][]lokiValue{tc.traceID: vals}, errs)
	defer s.Close()
	q := url.Values{}
	q.Set("query", `{service_name=~".+"} | trace_id="`+tc.traceID+`"`)
	q.Set("start", strconv.FormatInt(vals[0].ts, 10))
	q.Set("end", strconv.FormatInt(vals[300].ts, 10))
	q.Set("limit", "1000")
	q.Set("direction", "forward")
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/loki/api/v1/query_range?"+q.Encode(), nil)
	req.Header.Set("X-Loki-Response-Encoding-Flags", "categorize-labels")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := errs.take(); err != nil {
		t.Fatal(err)
	}
	rec, err := readFixture("loki_query_range_sm_filter_categorized.json")
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		Data struct {
			Result []struct {
				Values [][]json.RawMessage `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	var a, r answer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("fake Loki answer is not JSON: %v", err)
	}
	if err := json.Unmarshal(rec, &r); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]json.RawMessage{{body, rec}} {
		if g, w := jsonKeys(t, pair[0]), jsonKeys(t, pair[1]); !equal(g, w) {
			t.Fatalf("top-level keys %v, recorded %v", g, w)
		}
	}
	n := 0
	for _, st := range a.Data.Result {
		for _, v := range st.Values {
			n++
			if len(v) != 3 || !equal(jsonKeys(t, v[2]), jsonKeys(t, r.Data.Result[0].Values[0][2])) {
				t.Fatalf("value %s has not the recorded shape", v)
			}
		}
	}
	if n != 300 { // end is exclusive
		t.Fatalf("%d lines, want 300", n)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWorkload runs one query of the benchmark world through the plugin and
// checks the Kafka reader's pruning on it: the benchmarks' assumptions, as a
// test that can fail. It produces the 1M-record archive, so -short skips it.
func TestWorkload(t *testing.T) {
	if testing.Short() {
		t.Skip("produces 1M Kafka records")
	}
	w := getWorld(t)
	t.Log(describeWorld(w))
	if w.produced != totalKafkaRecords {
		t.Fatalf("archive holds %d records, want %d", w.produced, totalKafkaRecords)
	}
	tc := w.cases[caseName(1_000, 1_000)]
	ds := newDatasource(t, w)
	resp, err := ds.QueryData(benchCtx(t), queryRequest(tc))
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, resp, tc)
	res := newSolo(t, w).kafka.Read(benchCtx(t), tc.traceID, kafkaWindow(tc))
	for _, tr := range res.Topics {
		want := int(tr.Partitions)
		if tr.Topic == topicOTLP {
			want = 1
		}
		if tr.Err != nil || tr.PartitionsRead != want {
			t.Errorf("%s: err %v, read %d of %d partitions, want %d", tr.Topic, tr.Err, tr.PartitionsRead, tr.Partitions, want)
		}
	}
	p := kafka.PartitionFor([]byte(tc.traceID), partsOTLP, models.HasherSaramaCompat)
	if got := w.inWindow[tc.traceID][topicOTLP][p].records; got < int64(tc.kafkaLogs[0]) {
		t.Errorf("the keyed partition %d holds %d window records, fewer than the trace's %d", p, got, tc.kafkaLogs[0])
	}
	if err := w.errs.take(); err != nil {
		t.Fatal(err)
	}
}
