package kafka

import (
	"bytes"
	"encoding/hex"
	"strings"

	"github.com/traceweave/traceweave/pkg/models"
)

// traceMatcher holds the forms a trace ID takes in archived messages,
// computed once per query so the per-record work is byte searches only.
type traceMatcher struct {
	hex   string   // 32 lower-case hex digits, the canonical form
	raw   [16]byte // the bytes OTLP protobuf carries verbatim
	lower []byte
	// upper is nil when the ID has no a–f digit (upper == lower).
	upper []byte
	upStr string
}

func newTraceMatcher(traceID string) (*traceMatcher, error) {
	id, err := models.NormalizeTraceID(traceID)
	if err != nil {
		return nil, err
	}
	m := &traceMatcher{hex: id, lower: []byte(id)}
	if _, err := hex.Decode(m.raw[:], m.lower); err != nil {
		return nil, err
	}
	if up := strings.ToUpper(id); up != id {
		m.upper, m.upStr = []byte(up), up
	}
	return m, nil
}

// inText reports whether the hex trace ID occurs in text, in lower or upper
// case: the rule for lines that carry no explicit trace ID field.
func (m *traceMatcher) inText(s string) bool {
	return strings.Contains(s, m.hex) || (m.upStr != "" && strings.Contains(s, m.upStr))
}

// prefilter decides from a message's bytes, before any decoding, whether the
// message can hold a record of the trace. It must never reject a message the
// decoder would match; it may accept messages the decoder then rejects.
// bytes.Index on amd64/arm64 scans for the needle's first byte with SIMD, so
// a miss costs about one pass over the value per needle.
type prefilter struct {
	a, b, c []byte
}

// newPrefilter picks the needles of an encoding:
//   - otlp_proto: the 16 raw ID bytes (trace_id field), and the lower and
//     upper hex for records without a trace ID whose body names the trace;
//   - otlp_json: lower hex (OTLP JSON IDs are lower-case hex) and upper hex
//     for bodies;
//   - raw, json, text: lower and upper hex.
func newPrefilter(encoding string, m *traceMatcher) prefilter {
	switch encoding {
	case models.EncodingOTLPProto:
		return prefilter{a: m.raw[:], b: m.lower, c: m.upper}
	default:
		return prefilter{a: m.lower, b: m.upper}
	}
}

// match reports whether value may contain the trace.
func (p *prefilter) match(value []byte) bool {
	if bytes.Index(value, p.a) >= 0 {
		return true
	}
	if p.b != nil && bytes.Index(value, p.b) >= 0 {
		return true
	}
	return p.c != nil && bytes.Index(value, p.c) >= 0
}
