package tempo

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/traceweave/traceweave/pkg/models"
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

// FuzzDecodeSearch feeds arbitrary bodies to the search decoder: whatever a
// Tempo or a proxy sends, decodeSearch returns hits or ErrDecode, never
// panics, and a hit's trace ID is always a normalised one (the IDs become
// LogQL filters and Kafka prefilters), each once, at most limit of them.
func FuzzDecodeSearch(f *testing.F) {
	f.Add(fixture(f, "tempo_search_traceql.json"), uint8(20))
	f.Add(fixture(f, "tempo_search_traceql.json"), uint8(0))
	f.Add([]byte(`{"traces":[{"traceID":"abc\") or x=\"1"},{"traceID":"ABC","durationMs":"7"},{"traceID":"abc"},{"traceID":7}]}`), uint8(1))
	f.Add([]byte(`{"traces":[{"traceID":"a1","startTimeUnixNano":1,"serviceStats":{"s":{"spanCount":"2","errorCount":null}}}],"metrics":{}}`), uint8(2))
	f.Add(fixture(f, "tempo_trace_v2.json"), uint8(3))
	f.Fuzz(func(t *testing.T, body []byte, limit uint8) {
		lim := int(limit)%(models.MaxSearchLimit) + 1
		res, err := decodeSearch(body, lim)
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("unclassified error: %v", err)
			}
			if res != nil {
				t.Fatalf("result %+v alongside error %v", res, err)
			}
			return
		}
		if len(res.Hits) > lim {
			t.Fatalf("%d hits for limit %d", len(res.Hits), lim)
		}
		seen := map[string]bool{}
		for _, h := range res.Hits {
			if id, err := models.NormalizeTraceID(h.TraceID); err != nil || id != h.TraceID {
				t.Fatalf("hit ID %q is not a normalised trace ID", h.TraceID)
			}
			if seen[h.TraceID] {
				t.Fatalf("trace %s twice", h.TraceID)
			}
			seen[h.TraceID] = true
			if h.StartNs < 0 || h.DurationNs < 0 || h.DurationNs%int64(time.Millisecond) != 0 {
				t.Fatalf("hit %s: start %d, duration %d", h.TraceID, h.StartNs, h.DurationNs)
			}
			for _, st := range h.Services {
				if st.Spans < 0 || st.Errors < 0 {
					t.Fatalf("hit %s: negative counts %+v", h.TraceID, st)
				}
			}
		}
		if res.Dropped < 0 || res.Dropped == 0 && res.DroppedExample != "" {
			t.Fatalf("dropped %d, example %q", res.Dropped, res.DroppedExample)
		}
		if utf8.RuneCountInString(res.DroppedExample) > maxDroppedExample || !utf8.ValidString(res.DroppedExample) {
			t.Fatalf("dropped example %q is not clipped", res.DroppedExample)
		}
		for _, r := range res.DroppedExample {
			if !unicode.IsPrint(r) {
				t.Fatalf("dropped example %q holds %q", res.DroppedExample, r)
			}
		}
		if res.More && len(res.Hits)+res.Dropped == 0 {
			t.Fatal("more than the limit, but nothing returned or dropped")
		}
		// The limit cuts Tempo's order and changes nothing else.
		all, err := decodeSearch(body, models.MaxSearchLimit+1)
		if err != nil {
			t.Fatalf("readable with limit %d, not without: %v", lim, err)
		}
		if len(all.Hits) < len(res.Hits) || !reflect.DeepEqual(all.Hits[:len(res.Hits)], res.Hits) ||
			len(all.Hits) > len(res.Hits) && len(res.Hits) < lim || all.Dropped != res.Dropped || all.DroppedExample != res.DroppedExample {
			t.Fatalf("limit %d: %+v is not the start of %+v", lim, res, all)
		}
	})
}
