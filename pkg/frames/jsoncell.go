package frames

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// JSON cells, hand-encoded. The trace frame carries four JSON cells per span
// (serviceTags, logs, references, tags) and the logs frame one per line;
// encoding/json walks interface values by reflection, which made the trace
// frame of a 10k-span trace cost ~20 ms and its logs cells a third of the
// answer's build time at 100k lines (BENCHMARKS.md). The encoders here write
// the same JSON (tests compare them byte for byte with encoding/json with
// HTML escaping off) for the value types timeline.KeyValue holds, and fall
// back to encoding/json for anything else.

// appendJSONValue appends one attribute value.
func appendJSONValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return appendJSONString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case float64:
		return appendJSONFloat(b, x)
	case nil:
		return append(b, "null"...)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		// Not encodable (a NaN nested in a list, say): null keeps the cell
		// valid JSON and the rest of the span readable.
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// appendJSONFloat writes a float64 as encoding/json does: shortest form,
// exponent notation only for very small or large magnitudes, with a
// one-digit negative exponent (1e-7, not 1e-07). NaN and ±Inf, which JSON
// cannot hold, become null.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendEpochMillis writes epochMillis(ns) as appendJSONFloat does, byte for
// byte, without strconv's shortest-float search: a 100k-line trace frame
// writes ~100k timestamps (one per span log entry), 54 ns each through
// strconv, 20 ns here (BenchmarkAppendEpochMillis). It writes the whole
// microseconds as milliseconds with up to three decimals, trailing zeros
// dropped, which is the shortest decimal of that float from 0 up to 2^42 ms
// (year 2109); other times (and negative ones, where ns/1e3 truncates
// towards zero) go through appendJSONFloat.
//
// Why that is the shortest: for us = ns/1e3 (truncated) below 2^42·1000,
// float64(us) is exact, so epochMillis(ns) is d = us/1000 correctly
// rounded, a float f at most 2^42 whose neighbours are at most 2^-10 apart.
// Any other decimal with at most three decimals is 10^-3 or more from d and
// so more than half a gap from f: it does not parse as f. Every other
// decimal that does has more digits than d, so d is the one strconv finds,
// in 'f' notation (encoding/json uses 'e' only below 1e-6 and from 1e21).
// The unit test and FuzzAppendEpochMillis check it against encoding/json,
// on both sides of the bound (the same holds up to 2^43 ms; the bound
// keeps the argument simple).
func appendEpochMillis(b []byte, ns int64) []byte {
	us := ns / 1e3
	if us < 0 || us >= epochMillisExactUs {
		return appendJSONFloat(b, epochMillis(ns))
	}
	b = strconv.AppendInt(b, us/1e3, 10)
	frac := us % 1e3
	switch {
	case frac == 0:
		return b
	case frac%100 == 0:
		return append(b, '.', byte('0'+frac/100))
	case frac%10 == 0:
		return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10))
	}
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

// epochMillisExactUs bounds appendEpochMillis' own path: 2^42 ms in µs.
const epochMillisExactUs = (1 << 42) * 1000

// appendKeyValues appends attributes as [{"key":…,"value":…},…], the shape
// of the trace view's tags; nil is [].
func appendKeyValues(b []byte, kvs []timeline.KeyValue) []byte {
	b = append(b, '[')
	for i := range kvs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKeyValue(b, kvs[i].Key, kvs[i].Value)
	}
	return append(b, ']')
}

// appendKeyString is appendKeyValue for a string value, without boxing it
// in an interface (an allocation per call, five per log line in a span).
// Its callers name the key with a literal of plain characters, so the key is
// copied between quotes as it is, not scanned for escapes on every line.
func appendKeyString(b []byte, key, value string) []byte {
	b = append(b, `{"key":"`...)
	b = append(b, key...)
	b = append(b, `","value":`...)
	b = appendJSONString(b, value)
	return append(b, '}')
}

// appendKeyValue appends one {"key":…,"value":…} object.
func appendKeyValue(b []byte, key string, value any) []byte {
	b = append(b, `{"key":`...)
	b = appendJSONString(b, key)
	b = append(b, `,"value":`...)
	b = appendJSONValue(b, value)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string, escaping what JSON requires
// (quote, backslash, control characters) and replacing invalid UTF-8, as
// encoding/json does. Cells are mostly plain ASCII (log lines, names), so
// plain runs are found 16 bytes at a time (jsonPlainEnd) and copied with one
// append. Short strings (label names and values) stay in this loop, and b is
// not grown up front: both cost more per call than they saved (measured).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0 // s[start:i] is plain and not yet appended: copied in runs
	for i := 0; i < len(s); {
		c := s[i]
		if jsonPlain[c] {
			i++
			if len(s)-i >= 8 {
				i = jsonPlainEnd(s, i)
			}
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		// Non-ASCII is decoded here rather than after another word scan:
		// in non-Latin text the next byte is non-ASCII again.
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, "\\ufffd"...)
		case r == '\u2028' || r == '\u2029':
			// Line and paragraph separators, escaped by encoding/json
			// because JavaScript source cannot hold them raw.
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonPlain marks the bytes a JSON string holds as they are: printable ASCII
// except the quote and the backslash.
var jsonPlain = func() (plain [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		plain[c] = c != '"' && c != '\\'
	}
	return plain
}()

// jsonPlainEnd returns the index of the first byte of s from i on that is not
// jsonPlain, or len(s). It tests two 8-byte words a step (measured faster
// than one on 100 B log lines and 1 KB strings) and the last few bytes one by
// one. Kept out of appendJSONString so that this loop has the registers.
func jsonPlainEnd(s string, i int) int {
	for ; len(s)-i >= 16; i += 16 {
		m0 := jsonSpecialBytes(binary.LittleEndian.Uint64([]byte(s[i : i+8])))
		m1 := jsonSpecialBytes(binary.LittleEndian.Uint64([]byte(s[i+8 : i+16])))
		if m0|m1 != 0 {
			if m0 != 0 {
				return i + bits.TrailingZeros64(m0)/8
			}
			return i + 8 + bits.TrailingZeros64(m1)/8
		}
	}
	if len(s)-i >= 8 {
		if m := jsonSpecialBytes(binary.LittleEndian.Uint64([]byte(s[i : i+8]))); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < len(s) && jsonPlain[s[i]] {
		i++
	}
	return i
}

// jsonSpecialBytes sets bit 7 of each byte of the little-endian word x that
// is not jsonPlain: below 0x20, '"', '\\', or 0x80 and up (UTF-8 to check).
// Subtracting can borrow and flag a plain byte too, but only above a flagged
// one, so the lowest flag is always the first such byte.
func jsonSpecialBytes(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	backslash := x ^ (ones * '\\')
	return (x | (x-ones*0x20)&^x | (quote-ones)&^quote | (backslash-ones)&^backslash) & highs
}
