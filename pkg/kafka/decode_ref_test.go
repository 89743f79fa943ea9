package kafka

// This file is a snapshot of the decoders as they were before their CPU
// work (commit 754fc81): decode.go's helpers, decode_json.go, decode_raw.go,
// decode_text.go, decode_otlp_proto.go and decode_otlp_json.go, every
// top-level name prefixed with "ref". The equality fuzzers in
// decode_equal_test.go hold the live decoders to it: same records, same
// errors, for every input. Do not edit it to follow the live code.

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	jsoniter "github.com/json-iterator/go"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/traceweave/traceweave/internal/safetext"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// refInText is traceMatcher.inText as it was.
func refInText(m *traceMatcher, s string) bool {
	return strings.Contains(s, m.hex) || (m.upStr != "" && strings.Contains(s, m.upStr))
}

// id is the LogRecord.ID of the index-th log record of the message:
// "<topic>/<partition>/<offset>/<index>", stable across searches.
func refRecordID(c *recordContext, index int) string {
	b := make([]byte, 0, len(c.topic)+32)
	b = append(b, c.topic...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(c.partition), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, c.offset, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(index), 10)
	return string(b)
}

// refValidUTF8 keeps bodies valid UTF-8 (Arrow strings in frames must be),
// replacing broken sequences instead of dropping the line.
func refValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// refNormalizeSpanID returns a span ID in lower hex, or "" when s is not one.
func refNormalizeSpanID(s string) string {
	if len(s) != 16 {
		return ""
	}
	id, err := models.NormalizeSpanID(s)
	if err != nil || id == "0000000000000000" {
		return ""
	}
	return id
}

// refUnixToNs turns a Unix time of unknown unit into nanoseconds by its
// magnitude: seconds (< 1e11, i.e. before year 5138), milliseconds,
// microseconds, else nanoseconds. Fractions of seconds are kept.
func refUnixToNs(v float64) (int64, bool) {
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

// refUnixIntToNs is refUnixToNs for integers, exact (float64 loses nanoseconds).
func refUnixIntToNs(v int64) (int64, bool) {
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

// refTimeLayouts are the string time formats seen in JSON and text logs, most
// common first.
var refTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 -0700",
	"2006-01-02T15:04:05.999999999", // no zone: UTC
	"2006-01-02 15:04:05.999999999",
	time.RFC1123Z,
	time.RFC1123,
}

// refParseTimeString parses s as one of refTimeLayouts or as a Unix number.
func refParseTimeString(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	if c := s[0]; c >= '0' && c <= '9' && len(s) >= 8 && !strings.ContainsAny(s, "-:T ") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return refUnixIntToNs(n)
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return refUnixToNs(f)
		}
	}
	if len(s) < 10 {
		return 0, false
	}
	for _, layout := range refTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixNano(), true
		}
	}
	return 0, false
}

// refDecodeJSON decodes one JSON object per message (audit logs, JSON lines
// from shippers other than the collector).
func refDecodeJSON(dst []timeline.LogRecord, value []byte, c *recordContext) ([]timeline.LogRecord, error) {
	obj, err := refParseJSONObject(value)
	if err != nil {
		return dst, err
	}
	return refAppendJSONObject(dst, obj, value, c), nil
}

// refParseJSONObject reads one JSON object into maps, slices, strings, bools
// and json.Number (numbers kept as written: nanosecond timestamps and big
// IDs stay exact), the values encoding/json's Decoder with UseNumber gives,
// and like it ignores what follows the object. It walks the bytes with
// json-iterator: encoding/json's reflection into map[string]any was the
// largest cost of reading an audit topic at 100k lines (BENCHMARKS.md).
// Nesting deeper than refMaxJSONNesting is refused.
func refParseJSONObject(value []byte) (map[string]any, error) {
	iter := jsoniter.ConfigDefault.BorrowIterator(value)
	defer jsoniter.ConfigDefault.ReturnIterator(iter)
	var obj map[string]any
	if iter.WhatIsNext() != jsoniter.ObjectValue {
		iter.ReportError("parseJSONObject", "not an object")
	} else {
		obj = refReadJSONObject(iter, 1)
	}
	if iter.Error != nil {
		return nil, fmt.Errorf("%w: json: %v", errUndecodable, iter.Error)
	}
	return obj, nil
}

// refMaxJSONNesting bounds the depth refParseJSONObject follows, so a hostile
// record of nested brackets cannot exhaust the stack.
const refMaxJSONNesting = 64

// refReadJSONObject reads the object at the iterator; errors are left on it.
func refReadJSONObject(iter *jsoniter.Iterator, depth int) map[string]any {
	obj := map[string]any{}
	iter.ReadObjectCB(func(iter *jsoniter.Iterator, key string) bool {
		obj[key] = refReadJSONValue(iter, depth)
		return iter.Error == nil
	})
	return obj
}

// refReadJSONValue reads any value at the iterator; errors are left on it.
func refReadJSONValue(iter *jsoniter.Iterator, depth int) any {
	switch next := iter.WhatIsNext(); next {
	case jsoniter.StringValue:
		return iter.ReadString()
	case jsoniter.NumberValue:
		// ReadNumber takes the run of number characters as written (the
		// iterator's Skip would parse it as a float64 and refuse 1e400,
		// which JSON allows); the grammar is checked here.
		n := iter.ReadNumber()
		if iter.Error == nil && !refValidJSONNumber(n) {
			iter.ReportError("readJSONValue", "invalid number "+safetext.Clip([]byte(n), 40))
		}
		return n
	case jsoniter.BoolValue:
		return iter.ReadBool()
	case jsoniter.NilValue:
		iter.ReadNil()
		return nil
	case jsoniter.ObjectValue, jsoniter.ArrayValue:
		if depth >= refMaxJSONNesting {
			iter.ReportError("readJSONValue", fmt.Sprintf("nested deeper than %d levels", refMaxJSONNesting))
			return nil
		}
		if next == jsoniter.ObjectValue {
			return refReadJSONObject(iter, depth+1)
		}
		list := []any{}
		iter.ReadArrayCB(func(iter *jsoniter.Iterator) bool {
			list = append(list, refReadJSONValue(iter, depth+1))
			return iter.Error == nil
		})
		return list
	}
	iter.ReportError("readJSONValue", "invalid value")
	return nil
}

// refValidJSONNumber checks JSON's number grammar, which the iterator's skip
// does not: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func refValidJSONNumber(n json.Number) bool {
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
	refJsonTimeKeys    = []string{"time", "timestamp", "ts", "@timestamp", "datetime"}
	refJsonMessageKeys = []string{"message", "msg", "body", "log", "message.text"}
	refJsonLevelKeys   = []string{"level", "severity", "lvl", "log.level", "severity_text", "severitytext", "loglevel", "level_name"}
	refJsonTraceKeys   = []string{"trace_id", "traceid", "trace.id", "dd.trace_id"}
	refJsonSpanKeys    = []string{"span_id", "spanid", "span.id", "dd.span_id"}
	refJsonServiceKeys = []string{"service", "service.name", "service_name", "app", "application"}
)

// refJsonField is one leaf of a flattened JSON object.
type refJsonField struct {
	path  string // as written, dotted
	lower string
	value any
	used  bool
}

// refAppendJSONObject appends obj as a record when it belongs to the trace: its
// trace ID field names the trace, or it has none and the trace's hex occurs
// in the raw text. Fields that fill a role (time, message, level, IDs,
// service) are consumed; the others become Labels.
func refAppendJSONObject(dst []timeline.LogRecord, obj map[string]any, raw []byte, c *recordContext) []timeline.LogRecord {
	fields := refFlattenJSON(nil, "", obj)
	tf := refPickField(fields, refJsonTraceKeys)
	if tf != nil {
		id, ok := refJsonTraceID(tf.value)
		switch {
		case ok && id != c.m.hex:
			return dst
		case !ok && !refInText(c.m, string(raw)):
			return dst
		}
	} else if !refInText(c.m, string(raw)) {
		return dst
	}
	rec := timeline.LogRecord{
		TimeNs:   c.kafkaTimeNs,
		Severity: timeline.SeverityUnknown,
		TraceID:  c.m.hex,
		Source:   c.source,
		ID:       refRecordID(c, 0),
	}
	if f := refPickField(fields, refJsonTimeKeys); f != nil {
		if ns, ok := refJsonTime(f.value); ok {
			rec.TimeNs = ns
		} else {
			f.used = false
		}
	}
	if f := refPickField(fields, refJsonMessageKeys); f != nil {
		rec.Body = refJsonString(f.value)
	} else {
		rec.Body = string(bytes.TrimSpace(raw))
	}
	rec.Body = refValidUTF8(rec.Body)
	if f := refPickField(fields, refJsonLevelKeys); f != nil {
		rec.Severity = refJsonSeverity(f.value)
	}
	if f := refPickField(fields, refJsonSpanKeys); f != nil {
		rec.SpanID = refNormalizeSpanID(refJsonString(f.value))
	}
	if f := refPickField(fields, refJsonServiceKeys); f != nil {
		rec.Service = refValidUTF8(refJsonString(f.value))
	}
	var labels []timeline.Label
	for i := range fields {
		if fields[i].used {
			continue
		}
		if labels == nil {
			labels = make([]timeline.Label, 0, len(fields))
		}
		labels = append(labels, timeline.Label{Name: refValidUTF8(fields[i].path), Value: refValidUTF8(refJsonString(fields[i].value))})
	}
	rec.Labels = timeline.NewLabels(labels)
	return append(dst, rec)
}

// refFlattenJSON lists the leaves of obj in key order (so labels and role picks
// are deterministic), nested objects as dotted paths; arrays are leaves.
func refFlattenJSON(dst []refJsonField, prefix string, obj map[string]any) []refJsonField {
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
			dst = refFlattenJSON(dst, path, v)
		default:
			dst = append(dst, refJsonField{path: path, lower: strings.ToLower(path), value: v})
		}
	}
	return dst
}

// refPickField returns the first unused field whose path is one of keys (in
// the keys' order), marking it used.
func refPickField(fields []refJsonField, keys []string) *refJsonField {
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

// refJsonString renders a JSON leaf as text: strings as they are, numbers as
// written, arrays as JSON.
func refJsonString(v any) string {
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

// refJsonTraceID reads a trace ID field: hex (any case, 64-bit IDs padded) or
// base64 of the 16 bytes, as some shippers write protobuf IDs.
func refJsonTraceID(v any) (string, bool) {
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

// refJsonTime reads a time field: a string in a common layout or Unix number
// string, or a Unix number in s, ms, µs or ns.
func refJsonTime(v any) (int64, bool) {
	switch v := v.(type) {
	case string:
		return refParseTimeString(v)
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return refUnixIntToNs(n)
		}
		if f, err := v.Float64(); err == nil {
			return refUnixToNs(f)
		}
	}
	return 0, false
}

// refJsonSeverity reads a level field: a name, an OTLP severity number (1–24),
// or a pino/bunyan number (10 trace … 60 fatal).
func refJsonSeverity(v any) string {
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
	return timeline.NormalizeSeverity(refJsonString(v))
}

// refDecodeRaw decodes a kafkaexporter raw message: the log body alone (the
// trace ID is dropped by the exporter, so only the body's text can name the
// trace). The exporter writes a string body JSON-quoted, a map or slice body
// as JSON, a bytes body as the bytes. A JSON-object body is read like a json
// line (message, level, time, IDs); everything else like a text line.
func refDecodeRaw(dst []timeline.LogRecord, value []byte, c *recordContext) ([]timeline.LogRecord, error) {
	v := bytes.TrimSpace(value)
	if len(v) > 0 {
		switch v[0] {
		case '"':
			var s string
			if err := json.Unmarshal(v, &s); err == nil {
				return refAppendTextLine(dst, s, c), nil
			}
		case '{':
			if obj, err := refParseJSONObject(v); err == nil {
				return refAppendJSONObject(dst, obj, v, c), nil
			}
		}
	}
	// A bytes body, a number, or a string that is not valid JSON: the bytes are the line.
	return refAppendTextLine(dst, string(value), c), nil
}

// refDecodeText decodes a plain text line (syslog, application stdout). The
// message bytes are the line.
func refDecodeText(dst []timeline.LogRecord, value []byte, c *recordContext) ([]timeline.LogRecord, error) {
	return refAppendTextLine(dst, string(value), c), nil
}

// Keys of the trace and span ID pairs in text lines, lower case; matched
// case-insensitively, so traceId and TraceID are covered by "traceid".
var (
	refTextTraceKeys = []string{"trace_id", "traceid", "trace.id", "trace-id"}
	refTextSpanKeys  = []string{"span_id", "spanid", "span.id", "span-id"}
	refTextLevelKeys = []string{"level", "lvl", "severity", "loglevel"}
	refTextTimeKeys  = []string{"time", "ts", "timestamp"}
)

// refAppendTextLine appends line as a record when it belongs to the trace: its
// trace_id pair names the trace, or it has no trace_id pair and the trace's
// hex occurs in it.
func refAppendTextLine(dst []timeline.LogRecord, line string, c *recordContext) []timeline.LogRecord {
	line = strings.TrimRight(line, "\r\n")
	lower := refAsciiLower(line)
	if v, ok := refFindPair(line, lower, refTextTraceKeys, refIsHex); ok {
		if id, err := models.NormalizeTraceID(v); err != nil || id != c.m.hex {
			return dst
		}
	} else if !refInText(c.m, line) {
		return dst
	}
	rec := timeline.LogRecord{
		TimeNs:   refTextTime(line, lower, c),
		Body:     refValidUTF8(line),
		Severity: refGuessSeverity(line, lower),
		TraceID:  c.m.hex,
		Source:   c.source,
		ID:       refRecordID(c, 0),
	}
	if v, ok := refFindPair(line, lower, refTextSpanKeys, refIsHex); ok {
		rec.SpanID = refNormalizeSpanID(v)
	}
	return append(dst, rec)
}

// refAsciiLower lower-cases ASCII letters only, so byte offsets in the result
// are offsets in s (strings.ToLower may change lengths on non-ASCII or
// broken UTF-8).
func refAsciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// refFindPair finds the first `key=value`, `key="value"`, `key: value` or
// `"key":"value"` whose key is one of keys (lower case; lower is the line in
// lower case, same byte offsets as line since only ASCII changes) and returns
// the value: the run of bytes accepted by valueByte.
func refFindPair(line, lower string, keys []string, valueByte func(byte) bool) (string, bool) {
	for _, key := range keys {
		from := 0
		for {
			i := strings.Index(lower[from:], key)
			if i < 0 {
				break
			}
			i += from
			from = i + len(key)
			if i > 0 && refIsIdentByte(lower[i-1]) {
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

func refIsIdentByte(b byte) bool {
	return b == '_' || b == '.' || b == '-' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
}

func refIsHex(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
}

func refIsWordByte(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }

func refIsValueByte(b byte) bool {
	return b != ' ' && b != '"' && b != '\'' && b != ',' && b != ';' && b != '}' && b != '\t'
}

// refLevelWords are the words a text line states its level with.
var refLevelWords = map[string]bool{
	"trace": true, "debug": true, "info": true, "notice": true, "warn": true, "warning": true,
	"error": true, "err": true, "fatal": true, "critical": true, "crit": true, "panic": true,
	"emerg": true, "emergency": true, "alert": true,
}

// refGuessSeverity reads a line's level from, in order: a syslog <PRI> prefix,
// a level=/severity= pair, a level word written in capitals (ERROR), or a
// level word marked as one: "error:", "[warn]". A level word in running text
// ("stack trace", "no error") is not taken.
func refGuessSeverity(line, lower string) string {
	if pri, ok := refSyslogPRI(line); ok {
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
	if v, ok := refFindPair(line, lower, refTextLevelKeys, refIsWordByte); ok {
		if s := timeline.NormalizeSeverity(v); s != timeline.SeverityUnknown {
			return s
		}
	}
	for i := 0; i < len(line); {
		if !refIsWordByte(line[i]) {
			i++
			continue
		}
		j := i
		for j < len(line) && refIsWordByte(line[j]) {
			j++
		}
		// A word glued to identifier characters (trace_id, error.go) is not a level.
		glued := (i > 0 && refIsIdentByte(line[i-1]) && line[i-1] != '-') || (j < len(line) && (line[j] == '_' || line[j] == '.' && j+1 < len(line) && refIsWordByte(line[j+1])))
		if w := lower[i:j]; !glued && refLevelWords[w] {
			upper := strings.ToUpper(w) == line[i:j]
			marked := (j < len(line) && (line[j] == ':' || line[j] == ']')) || (i > 0 && line[i-1] == '[')
			if upper || marked {
				return timeline.NormalizeSeverity(w)
			}
		}
		i = j
	}
	return timeline.SeverityUnknown
}

// refSyslogPRI parses an RFC 3164/5424 "<PRI>" prefix (0–191).
func refSyslogPRI(line string) (int, bool) {
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

// refTextTime is the line's own time when it states one (an RFC 3339 stamp
// first, after an optional syslog <PRI> and version, or a time=/ts= pair),
// else the Kafka record time.
func refTextTime(line, lower string, c *recordContext) int64 {
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
		if ns, ok := refParseTimeString(tok); ok {
			return ns
		}
	}
	if v, ok := refFindPair(line, lower, refTextTimeKeys, refIsValueByte); ok {
		if ns, ok := refParseTimeString(v); ok {
			return ns
		}
	}
	return c.kafkaTimeNs
}

var refProtoLogs plog.ProtoUnmarshaler

// refDecodeOTLPProto decodes a kafkaexporter otlp_proto message (an OTLP
// ExportLogsServiceRequest, the same bytes as plog's LogsData) holding any
// number of log records.
func refDecodeOTLPProto(dst []timeline.LogRecord, value []byte, c *recordContext) ([]timeline.LogRecord, error) {
	logs, err := refProtoLogs.UnmarshalLogs(value)
	if err != nil {
		// pdata returns a zero Logs on error; it must not be touched.
		return dst, fmt.Errorf("%w: otlp_proto: %v", errUndecodable, err)
	}
	return refAppendOTLP(dst, logs, c), nil
}

// refAppendOTLP appends the records of the searched trace: those whose trace
// ID is the searched one, and those without a trace ID whose body names the
// trace in hex (host logs shipped by the filelog receiver carry the ID only
// in their text). A record with another trace's ID never matches.
func refAppendOTLP(dst []timeline.LogRecord, logs plog.Logs, c *recordContext) []timeline.LogRecord {
	index := 0
	rls := logs.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		resAttrs := rl.Resource().Attributes()
		service := ""
		if v, ok := resAttrs.Get("service.name"); ok {
			service = refValidUTF8(v.AsString())
		}
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				idx := index
				index++
				tid := lr.TraceID()
				var body string
				switch {
				case tid == pcommon.TraceID(c.m.raw):
					body = lr.Body().AsString()
				case tid.IsEmpty():
					body = lr.Body().AsString()
					if !refInText(c.m, body) {
						continue
					}
				default:
					continue
				}
				rec := timeline.LogRecord{
					TimeNs:   refOtlpTime(lr, c),
					Body:     refValidUTF8(body),
					Severity: refOtlpSeverity(lr),
					TraceID:  c.m.hex,
					Service:  service,
					Labels:   refOtlpLabels(resAttrs, lr.Attributes()),
					Source:   c.source,
					ID:       refRecordID(c, idx),
				}
				if sid := lr.SpanID(); !sid.IsEmpty() {
					rec.SpanID = hex.EncodeToString(sid[:])
				}
				dst = append(dst, rec)
			}
		}
	}
	return dst
}

// refOtlpTime is the record's time, else its observed time, else the Kafka
// record time.
func refOtlpTime(lr plog.LogRecord, c *recordContext) int64 {
	if t := int64(lr.Timestamp()); t > 0 {
		return t
	}
	if t := int64(lr.ObservedTimestamp()); t > 0 {
		return t
	}
	return c.kafkaTimeNs
}

// refOtlpSeverity prefers severity_text (what the application logged) and falls
// back to the severity number.
func refOtlpSeverity(lr plog.LogRecord) string {
	if s := timeline.NormalizeSeverity(lr.SeverityText()); s != timeline.SeverityUnknown {
		return s
	}
	if n := lr.SeverityNumber(); n > 0 {
		return timeline.NormalizeSeverity(strconv.Itoa(int(n)))
	}
	return timeline.SeverityUnknown
}

// refOtlpLabels flattens resource then record attributes (a record attribute
// wins over a resource attribute of the same key) to strings.
func refOtlpLabels(res, attrs pcommon.Map) timeline.Labels {
	if res.Len()+attrs.Len() == 0 {
		return nil
	}
	out := make([]timeline.Label, 0, res.Len()+attrs.Len())
	// Keys too: protobuf strings are not checked for UTF-8 by pdata.
	for k, v := range res.All() {
		out = append(out, timeline.Label{Name: refValidUTF8(k), Value: refValidUTF8(v.AsString())})
	}
	for k, v := range attrs.All() {
		out = append(out, timeline.Label{Name: refValidUTF8(k), Value: refValidUTF8(v.AsString())})
	}
	return timeline.NewLabels(out)
}

var refJsonLogs plog.JSONUnmarshaler

// refDecodeOTLPJSON decodes a kafkaexporter otlp_json message: OTLP JSON
// LogsData, with trace and span IDs as hex strings.
func refDecodeOTLPJSON(dst []timeline.LogRecord, value []byte, c *recordContext) ([]timeline.LogRecord, error) {
	logs, err := refJsonLogs.UnmarshalLogs(value)
	if err != nil {
		return dst, fmt.Errorf("%w: otlp_json: %v", errUndecodable, err)
	}
	return refAppendOTLP(dst, logs, c), nil
}
