package kafka

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	jsoniter "github.com/json-iterator/go"

	"github.com/traceweave/traceweave/internal/safetext"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// decodeJSON decodes one JSON object per message (audit logs, JSON lines
// from shippers other than the collector).
func decodeJSON(dst []timeline.LogRecord, value []byte, c *recordContext) ([]timeline.LogRecord, error) {
	return decodeJSONObject(dst, value, c)
}

// decodeJSONObject appends the record of a message that is one JSON object,
// when it belongs to the trace (decodeJSON, and raw bodies that are maps).
// The object is read by jsonScanner straight into its flattened fields, as
// substrings of one copy of the message; what the scanner does not read
// exactly as parseJSONObject would (see jsonScanner) is read by
// parseJSONObject and flattened from its maps, which also gives the error
// of a broken object.
func decodeJSONObject(dst []timeline.LogRecord, value []byte, c *recordContext) ([]timeline.LogRecord, error) {
	sc := getJSONScanner()
	defer putJSONScanner(sc)
	raw := string(value)
	if !sc.scan(value, raw) {
		obj, err := parseJSONObject(value)
		if err != nil {
			return dst, err
		}
		sc.fields = flattenJSON(sc.fields[:0], "", obj)
	}
	return appendJSONFields(dst, sc.fields, raw, c), nil
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

// jsonRole is the role a field's path names, if any.
type jsonRole uint8

const (
	jsonRoleNone jsonRole = iota
	jsonRoleTime
	jsonRoleMessage
	jsonRoleLevel
	jsonRoleTrace
	jsonRoleSpan
	jsonRoleService
)

// jsonRoleKey is the role of a lower-case path and its rank in the role's
// keys (0 first).
type jsonRoleKey struct {
	role jsonRole
	rank uint8
}

// jsonRoleKeys maps each role key to its role and rank; no key is in two
// roles' lists, so a path names at most one role.
var jsonRoleKeys = func() map[string]jsonRoleKey {
	m := map[string]jsonRoleKey{}
	for role, keys := range map[jsonRole][]string{
		jsonRoleTime: jsonTimeKeys, jsonRoleMessage: jsonMessageKeys, jsonRoleLevel: jsonLevelKeys,
		jsonRoleTrace: jsonTraceKeys, jsonRoleSpan: jsonSpanKeys, jsonRoleService: jsonServiceKeys,
	} {
		for rank, k := range keys {
			if _, dup := m[k]; dup || len(k) > maxJSONRoleKey {
				panic("json role key " + k + " in two roles or longer than maxJSONRoleKey")
			}
			m[k] = jsonRoleKey{role: role, rank: uint8(rank)}
		}
	}
	return m
}()

// maxJSONRoleKey bounds the length of role keys.
const maxJSONRoleKey = 16

// jsonRoleOf is the role of a path: the role key strings.ToLower(path) is.
// ASCII paths are lowered in a stack buffer (no role key is longer than
// it); others, rare, through strings.ToLower, which can map non-ASCII
// letters to ASCII ones (K, the Kelvin sign, to k), so a long one may
// still lower to a role key.
func jsonRoleOf(path string) jsonRoleKey {
	for i := 0; i < len(path); i++ {
		if path[i] >= utf8.RuneSelf {
			return jsonRoleKeys[strings.ToLower(path)]
		}
	}
	if len(path) > maxJSONRoleKey {
		return jsonRoleKey{}
	}
	var buf [maxJSONRoleKey]byte
	return jsonRoleKeys[string(appendASCIILower(buf[:0], path))]
}

// jsonKind is the type of a JSON value.
type jsonKind uint8

const (
	jsonKindString jsonKind = iota
	jsonKindNumber
	jsonKindBool
	jsonKindArray
	jsonKindNull
	jsonKindObject
)

// jsonField is one leaf of a flattened JSON object.
type jsonField struct {
	path string // as written, dotted
	// text is the value as text (jsonString): a string as it is, a number
	// as written, true or false, an array as JSON.
	text string
	kind jsonKind
	jsonRoleKey
	used bool
}

func newJSONField(path, text string, kind jsonKind) jsonField {
	return jsonField{path: path, text: text, kind: kind, jsonRoleKey: jsonRoleOf(path)}
}

// appendJSONFields appends a JSON object, flattened to fields in key order,
// as a record when it belongs to the trace: its trace ID field names the
// trace, or it has none and the trace's hex occurs in the raw text. Fields
// that fill a role (time, message, level, IDs, service) are consumed; the
// others become Labels.
func appendJSONFields(dst []timeline.LogRecord, fields []jsonField, raw string, c *recordContext) []timeline.LogRecord {
	tf := pickField(fields, jsonRoleTrace)
	if tf != nil {
		id, ok := jsonTraceID(tf)
		switch {
		case ok && !c.matchID(id):
			return dst
		case !ok && !c.matchText(raw):
			return dst
		}
	} else if !c.matchText(raw) {
		return dst
	}
	rec := timeline.LogRecord{
		TimeNs:   c.kafkaTimeNs,
		Severity: timeline.SeverityUnknown,
		TraceID:  c.traceID(),
		Source:   c.source,
		ID:       c.id(0),
	}
	if f := pickField(fields, jsonRoleTime); f != nil {
		if ns, ok := jsonTime(f); ok {
			rec.TimeNs = ns
		} else {
			f.used = false
		}
	}
	if f := pickField(fields, jsonRoleMessage); f != nil {
		rec.Body = f.text
	} else {
		rec.Body = strings.TrimSpace(raw)
	}
	rec.Body = validUTF8(rec.Body)
	if f := pickField(fields, jsonRoleLevel); f != nil {
		rec.Severity = jsonSeverity(f)
	}
	if f := pickField(fields, jsonRoleSpan); f != nil {
		rec.SpanID = normalizeSpanID(f.text)
	}
	if f := pickField(fields, jsonRoleService); f != nil {
		rec.Service = validUTF8(f.text)
	}
	var labels []timeline.Label
	for i := range fields {
		if fields[i].used {
			continue
		}
		if labels == nil {
			labels = make([]timeline.Label, 0, len(fields))
		}
		labels = append(labels, timeline.Label{Name: validUTF8(fields[i].path), Value: validUTF8(fields[i].text)})
	}
	rec.Labels = timeline.NewLabels(labels)
	c.kept()
	return append(dst, rec)
}

// flattenJSON lists the leaves of obj in key order (so labels and role picks
// are deterministic), nested objects as dotted paths; arrays are leaves.
// jsonScanner lists them in the same order.
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
		case string:
			dst = append(dst, newJSONField(path, v, jsonKindString))
		case json.Number:
			dst = append(dst, newJSONField(path, v.String(), jsonKindNumber))
		case bool:
			dst = append(dst, newJSONField(path, strconv.FormatBool(v), jsonKindBool))
		default:
			dst = append(dst, newJSONField(path, jsonString(v), jsonKindArray))
		}
	}
	return dst
}

// pickField returns the unused field of a role whose path comes first in
// the role's keys (the first such field in key order), marking it used.
func pickField(fields []jsonField, role jsonRole) *jsonField {
	best := -1
	for i := range fields {
		if f := &fields[i]; f.role == role && !f.used && (best < 0 || f.rank < fields[best].rank) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	fields[best].used = true
	return &fields[best]
}

// jsonString renders a JSON value as text: strings as they are, numbers as
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
func jsonTraceID(f *jsonField) (string, bool) {
	if f.kind != jsonKindString {
		return "", false
	}
	s := strings.TrimSpace(f.text)
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
func jsonTime(f *jsonField) (int64, bool) {
	switch f.kind {
	case jsonKindString:
		return parseTimeString(f.text)
	case jsonKindNumber:
		n := json.Number(f.text)
		if i, err := n.Int64(); err == nil {
			return unixIntToNs(i)
		}
		if v, err := n.Float64(); err == nil {
			return unixToNs(v)
		}
	}
	return 0, false
}

// jsonSeverity reads a level field: a name, an OTLP severity number (1–24),
// or a pino/bunyan number (10 trace … 60 fatal).
func jsonSeverity(f *jsonField) string {
	if f.kind == jsonKindNumber {
		n := json.Number(f.text)
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
	return timeline.NormalizeSeverity(f.text)
}
