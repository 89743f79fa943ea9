package kafka

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// errUndecodable marks a message that is not what its topic's encoding says
// it is; the reader counts it in TopicResult.Skipped and moves on.
var errUndecodable = errors.New("undecodable message")

// recordContext is what a decoder needs besides the message bytes: the
// searched traces and where the message came from.
type recordContext struct {
	m         *traceMatcher
	topic     string
	source    string
	partition int32
	offset    int64
	// kafkaTimeNs is the record timestamp (the export time), the fallback
	// for lines without their own time.
	kafkaTimeNs int64

	// hit is the IDs (numbers) the record being decoded belongs to, set by
	// the match methods.
	hit []int32
	// With a matcher of many IDs, hits[hitEnds[i-1]:hitEnds[i]] are the IDs
	// of the i-th record the decoder appended since the reader reset them
	// (a line naming two searched traces belongs to both). With one ID
	// every record is that ID's, and they stay empty.
	hits    []int32
	hitEnds []int
}

// matchID reports whether an explicit trace ID (normalised) is a searched
// one, and makes it the record's: a record with its own trace ID belongs to
// that trace only.
func (c *recordContext) matchID(id string) bool {
	n, ok := c.m.byID(id)
	c.hit = append(c.hit[:0], n)
	return ok
}

// matchRawID is matchID for the 16 bytes of an OTLP trace ID.
func (c *recordContext) matchRawID(raw [16]byte) bool {
	n, ok := c.m.byRawID(raw)
	c.hit = append(c.hit[:0], n)
	return ok
}

// matchText reports whether s names a searched trace in hex (the rule for
// records without a trace ID) and makes the traces it names the record's.
func (c *recordContext) matchText(s string) bool {
	c.hit = c.m.inText(c.hit[:0], s)
	return len(c.hit) > 0
}

// matchNoTraceID is matchText for an OTLP record without a trace ID: the
// all-zero ID, which models.NormalizeTraceID accepts, is also each such
// record's, as an empty ID equals it.
func (c *recordContext) matchNoTraceID(body string) bool {
	c.hit = c.m.inText(c.hit[:0], body)
	if n, ok := c.m.byRawID([16]byte{}); ok && !slices.Contains(c.hit, n) {
		c.hit = append(c.hit, n)
		slices.Sort(c.hit)
	}
	return len(c.hit) > 0
}

// traceID is the trace ID a matched record carries: its first trace's.
func (c *recordContext) traceID() string { return c.m.hexOf(c.hit[0]) }

// kept notes the IDs of a record the decoder appended.
func (c *recordContext) kept() {
	if c.m.multi() {
		c.hits = append(c.hits, c.hit...)
		c.hitEnds = append(c.hitEnds, len(c.hits))
	}
}

// recordIDs is the IDs of the i-th record appended since resetHits.
func (c *recordContext) recordIDs(i int) []int32 {
	if !c.m.multi() {
		return c.m.ids[0].only
	}
	from := 0
	if i > 0 {
		from = c.hitEnds[i-1]
	}
	return c.hits[from:c.hitEnds[i]]
}

// resetHits forgets the IDs of the records appended so far.
func (c *recordContext) resetHits() { c.hits, c.hitEnds = c.hits[:0], c.hitEnds[:0] }

// id is the LogRecord.ID of the index-th log record of the message:
// "<topic>/<partition>/<offset>/<index>", stable across searches.
func (c *recordContext) id(index int) string {
	// Built on the stack (one allocation, the string) unless the topic is long.
	var buf [80]byte
	b := buf[:0]
	b = append(b, c.topic...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(c.partition), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, c.offset, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(index), 10)
	return string(b)
}

// decodeFunc appends the records of the searched trace found in one message
// to dst. It returns errUndecodable (wrapped) for a broken message; a
// message that decodes but holds no record of the trace is not an error.
type decodeFunc func(dst []timeline.LogRecord, value []byte, c *recordContext) ([]timeline.LogRecord, error)

// decoderFor returns the decoder of an encoding (settings are validated, so
// an unknown encoding falls back to text, the most lenient).
func decoderFor(encoding string) decodeFunc {
	switch encoding {
	case models.EncodingOTLPProto:
		return decodeOTLPProto
	case models.EncodingOTLPJSON:
		return decodeOTLPJSON
	case models.EncodingRaw:
		return decodeRaw
	case models.EncodingJSON:
		return decodeJSON
	default:
		return decodeText
	}
}

// validUTF8 keeps bodies valid UTF-8 (Arrow strings in frames must be),
// replacing broken sequences instead of dropping the line.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// normalizeSpanID returns a span ID in lower hex, or "" when s is not one.
func normalizeSpanID(s string) string {
	if len(s) != 16 {
		return ""
	}
	id, err := models.NormalizeSpanID(s)
	if err != nil || id == "0000000000000000" {
		return ""
	}
	return id
}

// unixToNs turns a Unix time of unknown unit into nanoseconds by its
// magnitude: seconds (< 1e11, i.e. before year 5138), milliseconds,
// microseconds, else nanoseconds. Fractions of seconds are kept.
func unixToNs(v float64) (int64, bool) {
	switch {
	case v <= 0 || v != v:
		return 0, false
	case v < 1e11:
		return int64(v * 1e9), true
	case v < 1e14:
		return int64(v * 1e6), true
	case v < 1e17:
		return int64(v * 1e3), true
	case v < 9.2e18:
		return int64(v), true
	}
	return 0, false
}

// unixIntToNs is unixToNs for integers, exact (float64 loses nanoseconds).
func unixIntToNs(v int64) (int64, bool) {
	switch {
	case v <= 0:
		return 0, false
	case v < 1e11:
		return v * 1e9, true
	case v < 1e14:
		return v * 1e6, true
	case v < 1e17:
		return v * 1e3, true
	}
	return v, true
}

// timeLayouts are the string time formats seen in JSON and text logs, most
// common first.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 -0700",
	"2006-01-02T15:04:05.999999999", // no zone: UTC
	"2006-01-02 15:04:05.999999999",
	time.RFC1123Z,
	time.RFC1123,
}

// parseTimeString parses s as one of timeLayouts or as a Unix number.
func parseTimeString(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	if c := s[0]; c >= '0' && c <= '9' && len(s) >= 8 && !strings.ContainsAny(s, "-:T ") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return unixIntToNs(n)
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return unixToNs(f)
		}
	}
	if len(s) < 10 {
		return 0, false
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixNano(), true
		}
	}
	return 0, false
}
