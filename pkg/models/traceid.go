package models

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidTraceID and ErrInvalidSpanID are returned (wrapped) for IDs that
// cannot be a trace or span ID. They are user errors: no upstream is called.
var (
	ErrInvalidTraceID = errors.New("invalid trace ID")
	ErrInvalidSpanID  = errors.New("invalid span ID")
)

// NormalizeTraceID applies Tempo's rules to a user-supplied trace ID: hex
// only (case-insensitive), surrounding space trimmed, at most 32 digits,
// left-padded with zeros to 32 digits so 64-bit IDs work. The result is 32
// lower-case hex digits: the form trace IDs take in Loki structured metadata
// and kafkaexporter keys, and safe to embed in LogQL.
func NormalizeTraceID(id string) (string, error) {
	return normalizeHexID(id, 32, ErrInvalidTraceID, "trace")
}

// NormalizeSpanID is NormalizeTraceID for span IDs: at most 16 hex digits,
// padded to 16.
func NormalizeSpanID(id string) (string, error) {
	return normalizeHexID(id, 16, ErrInvalidSpanID, "span")
}

func normalizeHexID(id string, width int, sentinel error, what string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", fmt.Errorf("%w: the %s ID is empty", sentinel, what)
	}
	if len(id) > width {
		return "", fmt.Errorf("%w: %q has %d characters, a %s ID has at most %d hex digits", sentinel, clip(id), len(id), what, width)
	}
	if len(id) == width && isLowerHex(id) {
		// Already normal, as OTLP-ingested IDs are: no copy (this runs for
		// every log line's trace and span ID).
		return id, nil
	}
	var b [32]byte
	pad := width - len(id)
	for i := 0; i < pad; i++ {
		b[i] = '0'
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		default:
			return "", fmt.Errorf("%w: %q is not hexadecimal (character %d is %q)", sentinel, clip(id), i+1, string(rune(id[i])))
		}
		b[pad+i] = c
	}
	return string(b[:width]), nil
}

// isLowerHex reports whether s is made of 0-9 and a-f only.
func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// clip keeps hostile or huge input out of error messages.
func clip(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
