package kafka

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/traceweave/traceweave/pkg/models"
)

// traceForms holds the forms one trace ID takes in archived messages.
type traceForms struct {
	hex string   // 32 lower-case hex digits, the canonical form
	raw [16]byte // the bytes OTLP protobuf carries verbatim
	// n is the ID's number in the search (its index in the search's
	// matcher), the same in a one-ID matcher made for it (oneMatcher).
	n     int32
	only  []int32 // {n}: the IDs of a record of this trace alone
	lower []byte
	// upper is nil when the ID has no a–f digit (upper == lower).
	upper []byte
	upStr string
}

func newTraceForms(id string, n int32) (traceForms, error) {
	f := traceForms{hex: id, lower: []byte(id), n: n, only: []int32{n}}
	if _, err := hex.Decode(f.raw[:], f.lower); err != nil {
		return traceForms{}, err
	}
	if up := strings.ToUpper(id); up != id {
		f.upper, f.upStr = []byte(up), up
	}
	return f, nil
}

// inText reports whether the hex trace ID occurs in text, in lower or upper
// case: the rule for lines that carry no explicit trace ID field.
func (f *traceForms) inText(s string) bool {
	return strings.Contains(s, f.hex) || (f.upStr != "" && strings.Contains(s, f.upStr))
}

// traceMatcher holds the searched trace IDs, computed once per search so the
// per-record work is byte searches and set look-ups only. Read searches one
// ID; ReadTraces all the IDs of a search query's traces at once.
//
// With one ID, matching is what it always was: bytes.Index and
// strings.Contains on its forms (BenchmarkPrefilterDecode). With more, K
// searches per message would cost K passes over it, so the forms go into
// sets and one pass finds every candidate: an ID's hex is 32 hex digits, so
// it can only occur inside a run of 32 or more hex digits, and each 32-byte
// window of such a run is looked up; the raw 16 bytes are found by their
// first two bytes in a 64 Ki-bit table, then looked up. Both accept exactly
// what one search per ID would (TestMultiMatcherIsEachIDsMatcher).
type traceMatcher struct {
	ids []traceForms

	// Set when len(ids) > 1:
	byHex   map[string]int32   // lower and upper hex → ID number
	byRaw   map[[16]byte]int32 // raw bytes → ID number
	rawHead []uint64           // bit b0<<8|b1 set when an ID's raw bytes start with b0, b1
}

// newTraceMatcher is the matcher of one trace ID, as a user typed it (it is
// normalised: models.NormalizeTraceID).
func newTraceMatcher(traceID string) (*traceMatcher, error) {
	id, err := models.NormalizeTraceID(traceID)
	if err != nil {
		return nil, err
	}
	f, err := newTraceForms(id, 0)
	if err != nil {
		return nil, err
	}
	return &traceMatcher{ids: []traceForms{f}}, nil
}

// newMultiMatcher is the matcher of normalised, distinct trace IDs; ID i is
// number i.
func newMultiMatcher(ids []string) (*traceMatcher, error) {
	m := &traceMatcher{ids: make([]traceForms, len(ids))}
	for i, id := range ids {
		f, err := newTraceForms(id, int32(i))
		if err != nil {
			return nil, err
		}
		m.ids[i] = f
	}
	if len(ids) > 1 {
		m.byHex = make(map[string]int32, 2*len(ids))
		m.byRaw = make(map[[16]byte]int32, len(ids))
		m.rawHead = make([]uint64, 1<<16/64)
		for i := range m.ids {
			f := &m.ids[i]
			m.byHex[f.hex] = f.n
			if f.upStr != "" {
				m.byHex[f.upStr] = f.n
			}
			m.byRaw[f.raw] = f.n
			h := uint16(f.raw[0])<<8 | uint16(f.raw[1])
			m.rawHead[h>>6] |= 1 << (h & 63)
		}
	}
	return m, nil
}

// oneMatcher is the matcher of the search's ID number n alone (a keyed
// topic's message is decoded for its key's ID only, as Read does).
func (m *traceMatcher) oneMatcher(n int32) *traceMatcher {
	if len(m.ids) == 1 {
		return m
	}
	return &traceMatcher{ids: []traceForms{m.ids[n]}}
}

// multi reports whether the matcher holds more than one ID.
func (m *traceMatcher) multi() bool { return m.byHex != nil }

// byID is the number of the searched ID equal to id (normalised), if any:
// the rule for an explicit trace ID field.
func (m *traceMatcher) byID(id string) (int32, bool) {
	if !m.multi() {
		return m.ids[0].n, id == m.ids[0].hex
	}
	n, ok := m.byHex[id]
	if ok && m.ids[n].hex != id {
		return 0, false // the upper-case form: an explicit ID is compared normalised
	}
	return n, ok
}

// hexOf is the hex of the ID numbered n.
func (m *traceMatcher) hexOf(n int32) string {
	if len(m.ids) == 1 {
		return m.ids[0].hex
	}
	return m.ids[n].hex
}

// byKey is the number of the searched ID whose lower hex is a message key
// (kafkaexporter keys by the 32 lower-case hex digits).
func (m *traceMatcher) byKey(key []byte) (int32, bool) {
	if !m.multi() {
		return m.ids[0].n, bytes.Equal(key, m.ids[0].lower)
	}
	n, ok := m.byHex[string(key)]
	return n, ok && m.ids[n].hex == string(key)
}

// byRawID is byID for the 16 raw bytes of an OTLP trace ID.
func (m *traceMatcher) byRawID(raw [16]byte) (int32, bool) {
	if !m.multi() {
		return m.ids[0].n, raw == m.ids[0].raw
	}
	n, ok := m.byRaw[raw]
	return n, ok
}

// inText appends to dst the numbers of the IDs whose hex occurs in s in
// lower or upper case, each once, in increasing order.
func (m *traceMatcher) inText(dst []int32, s string) []int32 {
	if !m.multi() {
		if m.ids[0].inText(s) {
			dst = append(dst, m.ids[0].n)
		}
		return dst
	}
	from := len(dst)
	for i := hexWindow(s, 0); i >= 0; i = hexWindow(s, i+1) {
		if n, ok := m.byHex[s[i:i+32]]; ok && !slices.Contains(dst[from:], n) {
			dst = append(dst, n)
		}
	}
	slices.Sort(dst[from:])
	return dst
}

// hexInBytes reports whether the hex of an ID occurs in b (multi only).
func (m *traceMatcher) hexInBytes(b []byte) bool {
	for i := hexWindow(b, 0); i >= 0; i = hexWindow(b, i+1) {
		if _, ok := m.byHex[string(b[i:i+32])]; ok { // no allocation: a map index
			return true
		}
	}
	return false
}

// rawInBytes reports whether the raw bytes of an ID occur in b (multi only).
func (m *traceMatcher) rawInBytes(b []byte) bool {
	for i := 0; i+16 <= len(b); i++ {
		h := uint16(b[i])<<8 | uint16(b[i+1])
		if m.rawHead[h>>6]&(1<<(h&63)) == 0 {
			continue
		}
		if _, ok := m.byRaw[[16]byte(b[i:i+16])]; ok {
			return true
		}
	}
	return false
}

// hexRunMask is ^0 for the bytes that are hex digits (either case), 0 for
// the others: a run length is kept without a branch per byte.
var hexRunMask = func() (t [256]int) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = ^0
	}
	return t
}()

// hexWindow is the first i ≥ from at which s[i:i+32] is all hex digits, or
// -1: only there can a 32-digit hex ID start. from is 0 or one past the
// window it returned before.
func hexWindow[T string | []byte](s T, from int) int {
	run := 0
	if from > 0 {
		// Resuming after a window at from-1: the 31 bytes after it are hex.
		run = 31
		if from+31 > len(s) {
			return -1
		}
		from += 31
	}
	for i := from; i < len(s); i++ {
		run = (run + 1) & hexRunMask[s[i]]
		if run >= 32 {
			return i - 31
		}
	}
	return -1
}

// prefilter decides from a message's bytes, before any decoding, whether the
// message can hold a record of a searched trace. It must never reject a
// message the decoder would match; it may accept messages the decoder then
// rejects. bytes.Index on amd64/arm64 scans for the needle's first byte with
// SIMD, so a miss costs about one pass over the value per needle: fine for
// one ID, which is why a search of many IDs uses the matcher's sets instead.
type prefilter struct {
	a, b, c []byte
	// multi is the matcher of a search of many IDs, else nil.
	multi *traceMatcher
	proto bool
}

// newPrefilter picks the needles of an encoding:
//   - otlp_proto: the 16 raw ID bytes (trace_id field), and the lower and
//     upper hex for records without a trace ID whose body names the trace;
//   - otlp_json: lower hex (OTLP JSON IDs are lower-case hex) and upper hex
//     for bodies;
//   - raw, json, text: lower and upper hex.
func newPrefilter(encoding string, m *traceMatcher) prefilter {
	proto := encoding == models.EncodingOTLPProto
	if m.multi() {
		return prefilter{multi: m, proto: proto}
	}
	f := &m.ids[0]
	if proto {
		return prefilter{a: f.raw[:], b: f.lower, c: f.upper, proto: true}
	}
	return prefilter{a: f.lower, b: f.upper}
}

// match reports whether value may contain a searched trace.
func (p *prefilter) match(value []byte) bool {
	if p.multi != nil {
		return (p.proto && p.multi.rawInBytes(value)) || p.multi.hexInBytes(value)
	}
	if bytes.Index(value, p.a) >= 0 {
		return true
	}
	if p.b != nil && bytes.Index(value, p.b) >= 0 {
		return true
	}
	return p.c != nil && bytes.Index(value, p.c) >= 0
}
