package kafka

import (
	"bytes"
	"strings"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// decodeText decodes a plain text line (syslog, application stdout). The
// message bytes are the line.
func decodeText(dst []timeline.LogRecord, value []byte, c *recordContext) ([]timeline.LogRecord, error) {
	return appendTextLine(dst, string(value), c), nil
}

// Keys of the trace and span ID pairs in text lines, lower case; matched
// case-insensitively, so traceId and TraceID are covered by "traceid".
var (
	textTraceKeys = byteKeys("trace_id", "traceid", "trace.id", "trace-id")
	textSpanKeys  = byteKeys("span_id", "spanid", "span.id", "span-id")
	textLevelKeys = byteKeys("level", "lvl", "severity", "loglevel")
	textTimeKeys  = byteKeys("time", "ts", "timestamp")
)

func byteKeys(keys ...string) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = []byte(k)
	}
	return out
}

// appendTextLine appends line as a record when it belongs to a searched
// trace: its trace_id pair names the trace, or it has no trace_id pair and
// the trace's hex occurs in it.
func appendTextLine(dst []timeline.LogRecord, line string, c *recordContext) []timeline.LogRecord {
	line = strings.TrimRight(line, "\r\n")
	// The lower-case copy is only searched, never kept: on the stack for
	// lines of common length.
	var buf [1024]byte
	lower := appendASCIILower(buf[:0], line)
	if v, ok := findPair(line, lower, textTraceKeys, isHex); ok {
		if id, err := models.NormalizeTraceID(v); err != nil || !c.matchID(id) {
			return dst
		}
	} else if !c.matchText(line) {
		return dst
	}
	rec := timeline.LogRecord{
		TimeNs:   textTime(line, lower, c),
		Body:     validUTF8(line),
		Severity: guessSeverity(line, lower),
		TraceID:  c.traceID(),
		Source:   c.source,
		ID:       c.id(0),
	}
	if v, ok := findPair(line, lower, textSpanKeys, isHex); ok {
		rec.SpanID = normalizeSpanID(v)
	}
	c.kept()
	return append(dst, rec)
}

// appendASCIILower appends s with its ASCII letters lower-cased, and only
// those, so byte offsets in the result are offsets in s (strings.ToLower may
// change lengths on non-ASCII or broken UTF-8).
func appendASCIILower(dst []byte, s string) []byte {
	n := len(dst)
	dst = append(dst, s...)
	for i := n; i < len(dst); i++ {
		if c := dst[i]; c >= 'A' && c <= 'Z' {
			dst[i] = c + 'a' - 'A'
		}
	}
	return dst
}

// findPair finds the first `key=value`, `key="value"`, `key: value` or
// `"key":"value"` whose key is one of keys (lower case; lower is the line in
// lower case, same byte offsets as line since only ASCII changes) and returns
// the value: the run of bytes accepted by valueByte.
func findPair(line string, lower []byte, keys [][]byte, valueByte func(byte) bool) (string, bool) {
	for _, key := range keys {
		from := 0
		for {
			i := bytes.Index(lower[from:], key)
			if i < 0 {
				break
			}
			i += from
			from = i + len(key)
			if i > 0 && isIdentByte(lower[i-1]) {
				continue
			}
			j := i + len(key)
			if j < len(lower) && lower[j] == '"' {
				j++
			}
			if j >= len(lower) || (lower[j] != '=' && lower[j] != ':') {
				continue
			}
			j++
			for j < len(lower) && (lower[j] == ' ' || lower[j] == '"' || lower[j] == '\'') {
				j++
			}
			k := j
			for k < len(line) && valueByte(line[k]) {
				k++
			}
			if k > j {
				return line[j:k], true
			}
		}
	}
	return "", false
}

func isIdentByte(b byte) bool {
	return b == '_' || b == '.' || b == '-' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
}

func isHex(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
}

func isWordByte(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }

func isValueByte(b byte) bool {
	return b != ' ' && b != '"' && b != '\'' && b != ',' && b != ';' && b != '}' && b != '\t'
}

// levelWords are the words a text line states its level with (each maps to
// itself, so a match gives the word as a string without a conversion).
var levelWords = func() map[string]string {
	m := map[string]string{}
	for _, w := range []string{"trace", "debug", "info", "notice", "warn", "warning", "error", "err", "fatal",
		"critical", "crit", "panic", "emerg", "emergency", "alert"} {
		m[w] = w
	}
	return m
}()

// guessSeverity reads a line's level from, in order: a syslog <PRI> prefix,
// a level=/severity= pair, a level word written in capitals (ERROR), or a
// level word marked as one: "error:", "[warn]". A level word in running text
// ("stack trace", "no error") is not taken.
func guessSeverity(line string, lower []byte) string {
	if pri, ok := syslogPRI(line); ok {
		switch pri % 8 {
		case 0, 1, 2:
			return timeline.SeverityCritical
		case 3:
			return timeline.SeverityError
		case 4:
			return timeline.SeverityWarn
		case 5, 6:
			return timeline.SeverityInfo
		default:
			return timeline.SeverityDebug
		}
	}
	if v, ok := findPair(line, lower, textLevelKeys, isWordByte); ok {
		if s := timeline.NormalizeSeverity(v); s != timeline.SeverityUnknown {
			return s
		}
	}
	for i := 0; i < len(line); {
		if !isWordByte(line[i]) {
			i++
			continue
		}
		j := i
		for j < len(line) && isWordByte(line[j]) {
			j++
		}
		// A word glued to identifier characters (trace_id, error.go) is not a level.
		glued := (i > 0 && isIdentByte(line[i-1]) && line[i-1] != '-') || (j < len(line) && (line[j] == '_' || line[j] == '.' && j+1 < len(line) && isWordByte(line[j+1])))
		if !glued {
			if w, ok := levelWords[string(lower[i:j])]; ok {
				upper := isUpperWord(line[i:j]) // strings.ToUpper(w) == line[i:j]: the word's letters are ASCII
				marked := (j < len(line) && (line[j] == ':' || line[j] == ']')) || (i > 0 && line[i-1] == '[')
				if upper || marked {
					return timeline.NormalizeSeverity(w)
				}
			}
		}
		i = j
	}
	return timeline.SeverityUnknown
}

// isUpperWord reports whether the letters of w are all capitals.
func isUpperWord(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < 'A' || w[i] > 'Z' {
			return false
		}
	}
	return true
}

// syslogPRI parses an RFC 3164/5424 "<PRI>" prefix (0–191).
func syslogPRI(line string) (int, bool) {
	if len(line) < 3 || line[0] != '<' {
		return 0, false
	}
	n := 0
	for i := 1; i < len(line) && i <= 4; i++ {
		c := line[i]
		if c == '>' {
			if i == 1 || n > 191 {
				return 0, false
			}
			return n, true
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return 0, false
}

// textTime is the line's own time when it states one (an RFC 3339 stamp
// first, after an optional syslog <PRI> and version, or a time=/ts= pair),
// else the Kafka record time.
func textTime(line string, lower []byte, c *recordContext) int64 {
	s := line
	if len(s) > 0 && s[0] == '<' {
		if i := strings.IndexByte(s, '>'); i > 0 {
			s = s[i+1:]
			if strings.HasPrefix(s, "1 ") { // RFC 5424 version
				s = s[2:]
			}
		}
	}
	if len(s) >= 19 && s[0] >= '0' && s[0] <= '9' && s[4] == '-' {
		tok := s
		if i := strings.IndexByte(s, ' '); i > 0 {
			tok = s[:i]
		}
		if ns, ok := parseTimeString(tok); ok {
			return ns
		}
	}
	if v, ok := findPair(line, lower, textTimeKeys, isValueByte); ok {
		if ns, ok := parseTimeString(v); ok {
			return ns
		}
	}
	return c.kafkaTimeNs
}
