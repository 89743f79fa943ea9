package kafka

import (
	"bytes"
	"encoding/json"

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
			var s string
			if err := json.Unmarshal(v, &s); err == nil {
				return appendTextLine(dst, s, c), nil
			}
		case '{':
			if obj, err := parseJSONObject(v); err == nil {
				return appendJSONObject(dst, obj, v, c), nil
			}
		}
	}
	// A bytes body, a number, or a string that is not valid JSON: the bytes are the line.
	return appendTextLine(dst, string(value), c), nil
}
