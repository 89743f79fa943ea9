package kafka

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
	"unicode/utf8"

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
// With one ID, a decoder matches text with strings.Contains on its forms.
// With more, K searches per line would cost K passes over it, so the forms
// go into sets and one pass finds every candidate: an ID's hex is 32 hex
// digits, so it can only occur inside a run of 32 or more hex digits, and
// each 32-byte window of such a run is looked up. It finds exactly what one
// search per ID would (TestMultiMatcherIsEachIDsMatcher). The prefilter
// (below) finds every ID's needles in one pass too.
type traceMatcher struct {
	ids []traceForms

	// Set when len(ids) > 1:
	byHex map[string]int32   // lower and upper hex → ID number
	byRaw map[[16]byte]int32 // raw bytes → ID number
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
		for i := range m.ids {
			f := &m.ids[i]
			m.byHex[f.hex] = f.n
			if f.upStr != "" {
				m.byHex[f.upStr] = f.n
			}
			m.byRaw[f.raw] = f.n
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
// message the decoder would match; it may accept
// messages the decoder then rejects. What the decoders match, and so what
// it looks for, per searched ID:
//   - the hex digits of the ID without its leading zeros, in any case: the
//     ID in text (lower or upper case, the rule for lines without a trace
//     ID field), and trace ID fields, which the decoders read as Tempo reads
//     IDs (models.NormalizeTraceID: any case, 64-bit IDs padded with zeros,
//     so "trace_id=a3ce929d0e0e4736" is the trace 0000000000000000a3ce…);
//   - otlp_proto: the 16 raw ID bytes, verbatim in the record;
//   - json and raw (whose map bodies are JSON lines): the ID in base64 (24
//     characters, of which the first 21 are fixed; the decoder is lenient
//     about the unused bits of the 22nd), a form jsonTraceID reads;
//   - otlp_json, json and raw unescape JSON strings: a message with an
//     escape that stands for a letter, a digit or a base64 sign is accepted
//     (no encoder writes one; kafkaexporter escapes only <, > and &).
//
// All needles of all searched IDs are found in one pass. A needle is at
// least 11 bytes long (the 16 raw bytes, the 16 hex digits of a 64-bit ID;
// only an ID with 22 or more leading zeros has shorter hex), so each of its
// occurrences holds a 4-byte piece starting at a multiple of 8: the pass
// reads the 4 bytes at each multiple of 8, ASCII-case-folded, and looks
// them up in a bit set of the needles' pieces; only a hit is checked
// against the needles that hold the piece. Reading an eighth of the
// positions, it costs about what one bytes.Index did, and hardly more for
// 20 IDs than for one (BenchmarkPrefilterMany). Shorter needles make the
// step smaller; needles under 4 bytes are looked for one by one.
//
// checkDecode (every decoder fuzz test) and checkMultiMatcher
// (FuzzMultiMatcher) check that it never rejects a message with a record
// of a searched ID.
type prefilter struct {
	needles []needle
	step    int
	mask    uint32 // bit set size − 1
	bits    []uint64
	pieces  map[uint32][]piece // folded 4-byte piece → where it is in needles
	tiny    []int              // needles shorter than 4 bytes, looked for one by one
	escapes bool               // the encoding unescapes JSON strings
	slash   bool               // a needle holds '/', which JSON may write \/
}

// needle is one byte string the prefilter looks for.
type needle struct {
	b []byte
	// fold: b is lower case and matches in any ASCII case.
	fold bool
}

// piece is a needle's 4 bytes at offset k.
type piece struct {
	needle, k int32
}

// newPrefilter is the prefilter of the searched IDs of m for an encoding.
func newPrefilter(encoding string, m *traceMatcher) prefilter {
	p := prefilter{escapes: encoding == models.EncodingOTLPJSON || encoding == models.EncodingJSON || encoding == models.EncodingRaw}
	for i := range m.ids {
		f := &m.ids[i]
		p.needles = append(p.needles, needle{b: bytes.TrimLeft(f.lower, "0"), fold: true})
		switch encoding {
		case models.EncodingOTLPProto:
			p.needles = append(p.needles, needle{b: f.raw[:]})
		case models.EncodingJSON, models.EncodingRaw:
			b64 := []byte(base64.StdEncoding.EncodeToString(f.raw[:])[:21])
			p.needles = append(p.needles, needle{b: b64})
			p.slash = p.slash || bytes.IndexByte(b64, '/') >= 0
		}
	}
	p.step = 8
	for i, n := range p.needles {
		if len(n.b) < 4 {
			p.tiny = append(p.tiny, i)
			continue
		}
		p.step = min(p.step, len(n.b)-3) // a needle holds a piece at a multiple of step
	}
	size := uint32(1 << 12)
	for size < 1<<17 && size < uint32(64*len(p.needles)*32) {
		size <<= 1
	}
	p.mask, p.bits, p.pieces = size-1, make([]uint64, size/64), map[uint32][]piece{}
	for i, n := range p.needles {
		for k := 0; k+4 <= len(n.b); k++ {
			g := foldPiece(n.b[k:])
			h := pieceHash(g) & p.mask
			p.bits[h>>6] |= 1 << (h & 63)
			p.pieces[g] = append(p.pieces[g], piece{needle: int32(i), k: int32(k)})
		}
	}
	return p
}

// foldPiece is 4 bytes with the 0x20 bit set in each: ASCII letters of
// either case give the same piece (and so do a few other pairs of bytes,
// which costs only a check).
func foldPiece(b []byte) uint32 { return binary.LittleEndian.Uint32(b) | 0x20202020 }

func pieceHash(g uint32) uint32 { return (g * 0x9e3779b1) >> 15 }

// match reports whether value may contain a searched trace.
func (p *prefilter) match(value []byte) bool {
	bits, mask, step := p.bits, p.mask, p.step
	for j := 0; j+4 <= len(value); j += step {
		g := foldPiece(value[j : j+4])
		if h := pieceHash(g) & mask; bits[h>>6]&(1<<(h&63)) != 0 && p.at(value, j, g) {
			return true
		}
	}
	for _, i := range p.tiny {
		if indexFold(value, p.needles[i].b) {
			return true
		}
	}
	return p.escapes && p.escaped(value)
}

// at checks the needles holding piece g against value at j.
func (p *prefilter) at(value []byte, j int, g uint32) bool {
	for _, pc := range p.pieces[g] {
		n := &p.needles[pc.needle]
		i := j - int(pc.k)
		if i < 0 || i+len(n.b) > len(value) {
			continue
		}
		if w := value[i : i+len(n.b)]; (n.fold && equalFoldLower(w, n.b)) || (!n.fold && bytes.Equal(w, n.b)) {
			return true
		}
	}
	return false
}

// equalFoldLower reports whether w equals the lower-case lower in ASCII
// case-insensitively.
func equalFoldLower(w, lower []byte) bool {
	for i, c := range w {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// indexFold reports whether lower occurs in b, ASCII case-insensitively.
func indexFold(b, lower []byte) bool {
	for i := 0; i+len(lower) <= len(b); i++ {
		if equalFoldLower(b[i:i+len(lower)], lower) {
			return true
		}
	}
	return false
}

// escaped reports whether value has a JSON escape that may stand for a byte
// of a needle: \uXXXX of a letter, a digit, '+', '/' or '=', or \/ when a
// needle holds '/'.
func (p *prefilter) escaped(value []byte) bool {
	for i := bytes.IndexByte(value, '\\'); i >= 0 && i+1 < len(value); {
		switch value[i+1] {
		case '/':
			if p.slash {
				return true
			}
		case 'u':
			if r, ok := hex4(value[i+2:]); ok && r < utf8.RuneSelf && isNeedleByte(byte(r)) {
				return true
			}
		}
		i += 2 // an escaped backslash is not the start of another escape
		j := bytes.IndexByte(value[i:], '\\')
		if j < 0 {
			break
		}
		i += j
	}
	return false
}

// isNeedleByte: the bytes of hex and base64 needles.
func isNeedleByte(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c == '+' || c == '/' || c == '='
}
