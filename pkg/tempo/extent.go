package tempo

import (
	"mime"

	"google.golang.org/protobuf/encoding/protowire"
)

// Extent is what the log window needs from a trace: its earliest span start
// and latest span end (Unix ns, as timeline.Span holds them) and how many
// spans it has.
type Extent struct {
	StartNs, EndNs int64
	Spans          int
}

// OTLP field numbers on the path TracesData → ResourceSpans → ScopeSpans →
// Span → {start,end}_time_unix_nano (opentelemetry-proto trace.proto; Tempo's
// v1 Trace has the same shape, its "batches" being field 1).
const (
	fieldTracesResourceSpans protowire.Number = 1
	fieldResourceScopeSpans  protowire.Number = 2
	fieldScopeSpans          protowire.Number = 2
	fieldSpanStart           protowire.Number = 7
	fieldSpanEnd             protowire.Number = 8
)

// ScanExtent reads only the span timestamps of a protobuf trace-by-ID body.
// Decoding a 10k-span trace into spans takes ~24 ms; this walk skips every
// other field without allocating, so the engine can start Loki and Kafka on
// the window while the spans are still being decoded (BENCHMARKS.md).
//
// ok is false for a JSON body, a body without spans, or anything the walk
// does not understand; the caller then waits for Decode as it would without
// this scan. The extent is a prediction, not a decode: a field pdata would
// reject (invalid UTF-8 in a name, say) is skipped here, so callers must
// check it against the decoded spans before relying on it.
func ScanExtent(api, contentType string, body []byte) (x Extent, ok bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/protobuf" && mt != "application/x-protobuf" {
		return Extent{}, false
	}
	trace := body
	switch api {
	case APIv2:
		if trace, _, _, err = unwrapTraceByIDResponse(body); err != nil {
			return Extent{}, false
		}
	case APIv1:
	default:
		return Extent{}, false
	}
	s := extentScan{}
	if !s.walk(trace, 0) || s.x.Spans == 0 {
		return Extent{}, false
	}
	return s.x, true
}

// extentScan accumulates the extent over nested messages.
type extentScan struct{ x Extent }

// walk reads one message at the given depth (0 TracesData, 1 ResourceSpans,
// 2 ScopeSpans, 3 Span), descending into the fields on the path to the
// spans and skipping the rest. It reports false on malformed protobuf.
func (s *extentScan) walk(b []byte, depth int) bool {
	var start, end uint64 // of a span (depth 3); the last occurrence wins, as in pdata
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if child := childField(depth); child != 0 && num == child {
			if typ != protowire.BytesType {
				return false
			}
			v, m := protowire.ConsumeBytes(b)
			if m < 0 || !s.walk(v, depth+1) {
				return false
			}
			b = b[m:]
			continue
		}
		if depth == 3 && (num == fieldSpanStart || num == fieldSpanEnd) {
			if typ != protowire.Fixed64Type {
				return false
			}
			v, m := protowire.ConsumeFixed64(b)
			if m < 0 {
				return false
			}
			if num == fieldSpanStart {
				start = v
			} else {
				end = v
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return false
		}
		b = b[m:]
	}
	if depth == 3 {
		lo, hi := clampNs(start), clampNs(end)
		if s.x.Spans == 0 || lo < s.x.StartNs {
			s.x.StartNs = lo
		}
		if s.x.Spans == 0 || hi > s.x.EndNs {
			s.x.EndNs = hi
		}
		s.x.Spans++
	}
	return true
}

// childField is the field leading one level down from a message at depth,
// or 0 for a span (depth 3), whose fields are all leaves here.
func childField(depth int) protowire.Number {
	switch depth {
	case 0:
		return fieldTracesResourceSpans
	case 1:
		return fieldResourceScopeSpans
	case 2:
		return fieldScopeSpans
	}
	return 0
}
