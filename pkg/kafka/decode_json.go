package kafka

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	jsoniter "github.com/json-iterator/go"

	"github.com/traceweave/traceweave/internal/safetext"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// decodeJSON decodes one JSON object per message (audit logs, JSON lines
// from shippers other than the collector).
func decodeJSON(dst []timeline.LogRecord, value []byte, c *recordContext) ([]timeline.LogRecord, error) {
	obj, err := parseJSONObject(value)
	if err != nil {
		return dst, err
	}
	return appendJSONObject(dst, obj, value, c), nil
}

// parseJSONObject reads one JSON object into maps, slices, strings, bools
// and json.Number (numbers kept as written: nanosecond timestamps and big
// IDs stay exact), the values encoding/json's Decoder with UseNumber gives,
// and like it ignores what follows the object. It walks the bytes with
// json-iterator: encoding/json's reflection into map[string]any was the
// largest cost of reading an audit topic at 100k lines (BENCHMARKS.md).
// Nesting deeper than maxJSONNesting is refused.
func parseJSONObject(value []byte) (map[string]any, error) {
	iter := jsoniter.ConfigDefault.BorrowIterator(value)
	defer jsoniter.ConfigDefault.ReturnIterator(iter)
	var obj map[string]any
	if iter.WhatIsNext() != jsoniter.ObjectValue {
		iter.ReportError("parseJSONObject", "not an object")
	} else {
		obj = readJSONObject(iter, 1)
	}
	if iter.Error != nil {
		return nil, fmt.Errorf("%w: json: %v", errUndecodable, iter.Error)
	}
	return obj, nil
}

// maxJSONNesting bounds the depth parseJSONObject follows, so a hostile
// record of nested brackets cannot exhaust the stack.
const maxJSONNesting = 64

// readJSONObject reads the object at the iterator; errors are left on it.
func readJSONObject(iter *jsoniter.Iterator, depth int) map[string]any {
	obj := map[string]any{}
	iter.ReadObjectCB(func(iter *jsoniter.Iterator, key string) bool {
		obj[key] = readJSONValue(iter, depth)
		return iter.Error == nil
	})
	return obj
}

// readJSONValue reads any value at the iterator; errors are left on it.
func readJSONValue(iter *jsoniter.Iterator, depth int) any {
	switch next := iter.WhatIsNext(); next {
	case jsoniter.StringValue:
		return iter.ReadString()
	case jsoniter.NumberValue:
		// ReadNumber takes the run of number characters as written (the
		// iterator's Skip would parse it as a float64 and refuse 1e400,
		// which JSON allows); the grammar is checked here.
		n := iter.ReadNumber()
		if iter.Error == nil && !validJSONNumber(n) {
			iter.ReportError("readJSONValue", "invalid number "+safetext.Clip([]byte(n), 40))
		}
		return n
	case jsoniter.BoolValue:
		return iter.ReadBool()
	case jsoniter.NilValue:
		iter.ReadNil()
		return nil
	case jsoniter.ObjectValue, jsoniter.ArrayValue:
		if depth >= maxJSONNesting {
			iter.ReportError("readJSONValue", fmt.Sprintf("nested deeper than %d levels", maxJSONNesting))
			return nil
		}
		if next == jsoniter.ObjectValue {
			return readJSONObject(iter, depth+1)
		}
		list := []any{}
		iter.ReadArrayCB(func(iter *jsoniter.Iterator) bool {
			list = append(list, readJSONValue(iter, depth+1))
			return iter.Error == nil
		})
		return list
	}
	iter.ReportError("readJSONValue", "invalid value")
	return nil
}

// validJSONNumber checks JSON's number grammar, which the iterator's skip
// does not: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validJSONNumber(n json.Number) bool {
	b := string(n)
	i := 0
	digits := func() bool {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(b)
}

// Field names of the roles a JSON log line's fields play, in priority
// order, lower case, dotted for nesting ("trace.id" matches a flat
// "trace.id" key and {"trace":{"id":…}} alike, as ECS writes it).
var (
	jsonTimeKeys    = []string{"time", "timestamp", "ts", "@timestamp", "datetime"}
	jsonMessageKeys = []string{"message", "msg", "body", "log", "message.text"}
	jsonLevelKeys   = []string{"level", "severity", "lvl", "log.level", "severity_text", "severitytext", "loglevel", "level_name"}
	jsonTraceKeys   = []string{"trace_id", "traceid", "trace.id", "dd.trace_id"}
	jsonSpanKeys    = []string{"span_id", "spanid", "span.id", "dd.span_id"}
	jsonServiceKeys = []string{"service", "service.name", "service_name", "app", "application"}
)

// jsonField is one leaf of a flattened JSON object.
type jsonField struct {
	path  string // as written, dotted
	lower string
	value any
	used  bool
}

// appendJSONObject appends obj as a record when it belongs to the trace: its
// trace ID field names the trace, or it has none and the trace's hex occurs
// in the raw text. Fields that fill a role (time, message, level, IDs,
// service) are consumed; the others become Labels.
func appendJSONObject(dst []timeline.LogRecord, obj map[string]any, raw []byte, c *recordContext) []timeline.LogRecord {
	fields := flattenJSON(nil, "", obj)
	tf := pickField(fields, jsonTraceKeys)
	if tf != nil {
		id, ok := jsonTraceID(tf.value)
		switch {
		case ok && id != c.m.hex:
			return dst
		case !ok && !c.m.inText(string(raw)):
			return dst
		}
	} else if !c.m.inText(string(raw)) {
		return dst
	}
	rec := timeline.LogRecord{
		TimeNs:   c.kafkaTimeNs,
		Severity: timeline.SeverityUnknown,
		TraceID:  c.m.hex,
		Source:   c.source,
		ID:       c.id(0),
	}
	if f := pickField(fields, jsonTimeKeys); f != nil {
		if ns, ok := jsonTime(f.value); ok {
			rec.TimeNs = ns
		} else {
			f.used = false
		}
	}
	if f := pickField(fields, jsonMessageKeys); f != nil {
		rec.Body = jsonString(f.value)
	} else {
		rec.Body = string(bytes.TrimSpace(raw))
	}
	rec.Body = validUTF8(rec.Body)
	if f := pickField(fields, jsonLevelKeys); f != nil {
		rec.Severity = jsonSeverity(f.value)
	}
	if f := pickField(fields, jsonSpanKeys); f != nil {
		rec.SpanID = normalizeSpanID(jsonString(f.value))
	}
	if f := pickField(fields, jsonServiceKeys); f != nil {
		rec.Service = validUTF8(jsonString(f.value))
	}
	var labels []timeline.Label
	for i := range fields {
		if fields[i].used {
			continue
		}
		if labels == nil {
			labels = make([]timeline.Label, 0, len(fields))
		}
		labels = append(labels, timeline.Label{Name: validUTF8(fields[i].path), Value: validUTF8(jsonString(fields[i].value))})
	}
	rec.Labels = timeline.NewLabels(labels)
	return append(dst, rec)
}

// flattenJSON lists the leaves of obj in key order (so labels and role picks
// are deterministic), nested objects as dotted paths; arrays are leaves.
func flattenJSON(dst []jsonField, prefix string, obj map[string]any) []jsonField {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		switch v := obj[k].(type) {
		case nil:
		case map[string]any:
			dst = flattenJSON(dst, path, v)
		default:
			dst = append(dst, jsonField{path: path, lower: strings.ToLower(path), value: v})
		}
	}
	return dst
}

// pickField returns the first unused field whose path is one of keys (in
// the keys' order), marking it used.
func pickField(fields []jsonField, keys []string) *jsonField {
	for _, k := range keys {
		for i := range fields {
			if !fields[i].used && fields[i].lower == k {
				fields[i].used = true
				return &fields[i]
			}
		}
	}
	return nil
}

// jsonString renders a JSON leaf as text: strings as they are, numbers as
// written, arrays as JSON.
func jsonString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}

// jsonTraceID reads a trace ID field: hex (any case, 64-bit IDs padded) or
// base64 of the 16 bytes, as some shippers write protobuf IDs.
func jsonTraceID(v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	s = strings.TrimSpace(s)
	if id, err := models.NormalizeTraceID(s); err == nil && len(s) >= 16 {
		return id, true
	}
	if len(s) == 24 {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == 16 {
			return hex.EncodeToString(b), true
		}
	}
	return "", false
}

// jsonTime reads a time field: a string in a common layout or Unix number
// string, or a Unix number in s, ms, µs or ns.
func jsonTime(v any) (int64, bool) {
	switch v := v.(type) {
	case string:
		return parseTimeString(v)
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return unixIntToNs(n)
		}
		if f, err := v.Float64(); err == nil {
			return unixToNs(f)
		}
	}
	return 0, false
}

// jsonSeverity reads a level field: a name, an OTLP severity number (1–24),
// or a pino/bunyan number (10 trace … 60 fatal).
func jsonSeverity(v any) string {
	if n, ok := v.(json.Number); ok {
		i, err := n.Int64()
		if err != nil {
			return timeline.SeverityUnknown
		}
		// pino/bunyan first: their 10 and 20 are far more common in JSON
		// lines than OTLP's INFO2 and ERROR4.
		switch {
		case i == 10:
			return timeline.SeverityTrace
		case i == 20:
			return timeline.SeverityDebug
		case i == 30:
			return timeline.SeverityInfo
		case i == 40:
			return timeline.SeverityWarn
		case i == 50:
			return timeline.SeverityError
		case i == 60:
			return timeline.SeverityCritical
		case i >= 1 && i <= 24:
			return timeline.NormalizeSeverity(n.String())
		}
		return timeline.SeverityUnknown
	}
	return timeline.NormalizeSeverity(jsonString(v))
}
