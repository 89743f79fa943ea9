package loki

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/traceweave/traceweave/pkg/timeline"
)

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// checkRecord holds for every record the decoder returns, whatever the input.
func checkRecord(t *testing.T, r *timeline.LogRecord) {
	t.Helper()
	if r.TraceID != "" && !isLowerHex(r.TraceID, 32) {
		t.Fatalf("trace ID %q is not 32 lower-case hex digits", r.TraceID)
	}
	if r.SpanID != "" && !isLowerHex(r.SpanID, 16) {
		t.Fatalf("span ID %q is not 16 lower-case hex digits", r.SpanID)
	}
	if r.Source != timeline.SourceLoki || r.ID == "" || r.Labels.Get(StreamLabel) == "" {
		t.Fatalf("record without source, ID or stream: %+v", r)
	}
	if timeline.NormalizeSeverity(r.Severity) != r.Severity {
		t.Fatalf("severity %q is not normalised", r.Severity)
	}
	if !strings.HasPrefix(r.ID, fmt.Sprint(r.TimeNs)+"_") {
		t.Fatalf("ID %q does not start with the time %d", r.ID, r.TimeNs)
	}
}

// FuzzDecodeResponse feeds arbitrary bodies to the query_range decoder: it
// must return records or an error, never panic or hang, and every record it
// returns must be well-formed.
func FuzzDecodeResponse(f *testing.F) {
	// Seeds are kept small: the fuzzing engine slows to a crawl on inputs of
	// several KB, so the recorded pages contribute one stream each.
	for _, name := range []string{
		"loki_query_range_sm_filter_categorized.json",
		"loki_query_range_linefilter.json",
	} {
		f.Add(firstStream(f, fixture(f, name)))
	}
	f.Add([]byte(`{"status":"success","data":{"resultType":"streams","result":[{"values":[["1","{\"dd\":{\"trace_id\":1}}",{"parsed":{"level":"warn"}}]],"stream":{"a":"\""}}]}}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[["9223372036854775807","trace_id=` + fixtureTraceID + `"]]}]}}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
	f.Add([]byte(`{"data":{"result":[{"values":[["1","x",{}],["2","y"]]}]},"status":"success"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		entries, err := decodeResponse(bytes.NewReader(body))
		if err != nil {
			if len(entries) != 0 {
				t.Fatalf("entries with an error")
			}
			return
		}
		for i := range entries {
			checkRecord(t, &entries[i].rec)
			if entries[i].stream != entries[i].rec.Labels.Get(StreamLabel) {
				t.Fatalf("stream key and label differ")
			}
		}
	})
}

// firstStream cuts a recorded query_range body down to its first stream.
func firstStream(f *testing.F, body []byte) []byte {
	var resp struct {
		Status string `json:"status"`
		Data   struct {
			ResultType    string            `json:"resultType"`
			EncodingFlags []string          `json:"encodingFlags,omitempty"`
			Result        []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || len(resp.Data.Result) == 0 {
		f.Fatalf("fixture: %v", err)
	}
	resp.Data.Result = resp.Data.Result[:1]
	out, err := json.Marshal(resp)
	if err != nil {
		f.Fatal(err)
	}
	return out
}

// FuzzScanBody feeds arbitrary log bodies to the JSON/logfmt field scanner.
func FuzzScanBody(f *testing.F) {
	f.Add(`level=error msg="boom \"x\"" trace_id=` + fixtureTraceID + ` span_id=00f067aa0ba90207`)
	f.Add(`{"dd":{"trace_id":12345678901234567890,"span_id":"42"},"level":"warn"}`)
	f.Add(`{"trace":{"id":"` + fixtureTraceID + `","x":{"y":{"z":1}}},"lvl":"info"}`)
	f.Add(`key="unterminated trace_id=1`)
	f.Add(`= == =" "`)
	f.Fuzz(func(t *testing.T, body string) {
		r := timeline.LogRecord{TimeNs: 1, Body: body, Labels: timeline.Labels{{Name: StreamLabel, Value: "{}"}}, Source: timeline.SourceLoki, ID: "1_0"}
		enrich(&r)
		checkRecord(t, &r)
	})
}
