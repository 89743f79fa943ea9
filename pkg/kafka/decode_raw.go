package kafka

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// decodeRaw decodes a kafkaexporter raw message: the log body alone (the
// trace ID is dropped by the exporter, so only the body's text can name the
// trace). The exporter writes a string body JSON-quoted, a map or slice body
// as JSON, a bytes body as the bytes. A JSON-object body is read like a json
// line (message, level, time, IDs); everything else like a text line.
func decodeRaw(dst []timeline.LogRecord, value []byte, c *recordContext) ([]timeline.LogRecord, error) {
	v := bytes.TrimSpace(value)
	if len(v) > 0 {
		switch v[0] {
		case '"':
			if s, ok := unquoteString(v); ok {
				return appendTextLine(dst, s, c), nil
			}
			var s string
			if err := json.Unmarshal(v, &s); err == nil {
				return appendTextLine(dst, s, c), nil
			}
		case '{':
			if out, err := decodeJSONObject(dst, v, c); err == nil {
				return out, nil
			}
		}
	}
	// A bytes body, a number, or a string that is not valid JSON: the bytes are the line.
	return appendTextLine(dst, string(value), c), nil
}

// unquoteString is json.Unmarshal into a string for the quoted bodies it
// can read exactly: v is one JSON string whose content has only valid
// UTF-8, no control byte, and escapes that stand for one character each
// (\" \\ \/ \b \f \n \r \t, or \uXXXX outside the surrogates). The
// result is what encoding/json returns for them. Anything else (a surrogate
// escape, invalid UTF-8, which encoding/json replaces, or no valid string at
// all) reports false and is left to encoding/json. kafkaexporter writes
// string bodies with encoding/json, which escapes <, > and & as \u003c,
// \u003e and \u0026: syslog lines start with one.
func unquoteString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	body := v[1 : len(v)-1]
	ascii, escaped := true, false
	for i := 0; i < len(body); i++ {
		switch b := body[i]; {
		case b == '"' || b < 0x20:
			return "", false
		case b == '\\':
			escaped = true
			i++ // an escaped quote does not end the string; the escape is checked below
		case b >= utf8.RuneSelf:
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(body) {
		return "", false
	}
	if !escaped {
		return string(body), true
	}
	// The content is checked above; unescapeJSON reads the escapes (one
	// more copy of an escaped body, the price of one unescaper).
	return unescapeJSON(string(body))
}
