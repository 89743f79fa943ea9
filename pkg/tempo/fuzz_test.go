package tempo

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary answers to the response decoder: whatever a
// server or proxy sends, Decode must return a Result with spans or a
// classified error (ErrDecode, ErrTraceNotFound), never panic, and a
// decoded trace must be JSON-encodable (frames marshal its attributes).
func FuzzDecode(f *testing.F) {
	f.Add("application/protobuf", true, fixture(f, "tempo_trace_v2.pb"))
	f.Add("application/protobuf", false, fixture(f, "tempo_trace_v1.pb"))
	f.Add("application/json", true, fixture(f, "tempo_trace_v2.json"))
	f.Add("application/json; charset=utf-8", false, fixture(f, "tempo_trace_v1.json"))
	f.Add("application/json", true, fixture(f, "tempo_trace_v2_notfound.txt"))
	f.Add("text/plain; charset=utf-8", true, fixture(f, "tempo_trace_badid.txt"))
	f.Add("application/x-protobuf", true, []byte{0x0a, 0x02, 0x0a, 0x00, 0x18, 0x01, 0x22, 0x01, 'x'})
	f.Fuzz(func(t *testing.T, contentType string, v2 bool, body []byte) {
		api := APIv1
		if v2 {
			api = APIv2
		}
		res, err := Decode(api, contentType, body)
		if err != nil {
			if !errors.Is(err, ErrDecode) && !errors.Is(err, ErrTraceNotFound) {
				t.Fatalf("unclassified error: %v", err)
			}
			if res != nil {
				t.Fatalf("result %+v alongside error %v", res, err)
			}
			return
		}
		if len(res.Trace.Spans) == 0 {
			t.Fatal("a result without spans must be ErrTraceNotFound")
		}
		if res.API != api {
			t.Fatalf("API = %q, want %q", res.API, api)
		}
		for _, s := range res.Trace.Spans {
			if len(s.TraceID) != 0 && len(s.TraceID) != 32 || len(s.SpanID) != 0 && len(s.SpanID) != 16 {
				t.Fatalf("IDs not hex-encoded: %q %q", s.TraceID, s.SpanID)
			}
		}
		if _, err := json.Marshal(res.Trace); err != nil {
			t.Fatalf("decoded trace is not JSON-encodable: %v", err)
		}
	})
}
