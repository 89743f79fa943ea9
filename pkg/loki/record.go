package loki

import (
	"strconv"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data/utils/jsoniter"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// Label names read from a record, in order of preference.
var (
	serviceLabels = []string{"service_name", "service", "app", "job"}
	// severity_text is OTLP's; level is the usual push/promtail label;
	// detected_level is Loki's own guess (it may be "unknown"), so it comes last.
	severityLabels = []string{"severity_text", "severity_number", "level", "detected_level"}
	traceIDLabels  = []string{"trace_id", "traceid", "traceID", "traceId"}
	spanIDLabels   = []string{"span_id", "spanid", "spanID", "spanId"}
)

// enrich fills Service, Severity, TraceID and SpanID of a record from its
// labels, and from the JSON or logfmt fields of its body for what the labels
// do not say. The body is parsed only when needed: OTLP-ingested lines carry
// everything in structured metadata.
func enrich(r *timeline.LogRecord) {
	for _, k := range serviceLabels {
		if v := r.Labels.Get(k); v != "" {
			r.Service = v
			break
		}
	}
	r.Severity = timeline.SeverityUnknown
	for _, k := range severityLabels {
		if v, ok := r.Labels.Lookup(k); ok {
			if s := timeline.NormalizeSeverity(v); s != timeline.SeverityUnknown {
				r.Severity = s
				break
			}
		}
	}
	for _, k := range traceIDLabels {
		if id := hexTraceID(r.Labels.Get(k)); id != "" {
			r.TraceID = id
			break
		}
	}
	for _, k := range spanIDLabels {
		if id := hexSpanID(r.Labels.Get(k)); id != "" {
			r.SpanID = id
			break
		}
	}
	if r.Severity != timeline.SeverityUnknown && r.TraceID != "" && r.SpanID != "" {
		return
	}
	f := scanBody(r.Body)
	if r.Severity == timeline.SeverityUnknown && f.level != "" {
		r.Severity = timeline.NormalizeSeverity(f.level)
	}
	if r.TraceID == "" {
		r.TraceID = f.traceID
	}
	if r.SpanID == "" {
		r.SpanID = f.spanID
	}
}

// bodyFields are the fields of a structured log body that enrich uses.
type bodyFields struct {
	level, traceID, spanID string
}

// set records one key/value of a body, matching keys case-insensitively; the
// first usable value of each field wins.
func (f *bodyFields) set(key, value string) {
	if len(key) > 16 {
		return
	}
	switch strings.ToLower(key) {
	case "level", "severity", "lvl", "log.level":
		if f.level == "" {
			f.level = value
		}
	case "trace_id", "traceid", "trace.id":
		if f.traceID == "" {
			f.traceID = hexTraceID(value)
		}
	case "dd.trace_id":
		if f.traceID == "" {
			f.traceID = ddTraceID(value)
		}
	case "span_id", "spanid", "span.id":
		if f.spanID == "" {
			f.spanID = hexSpanID(value)
		}
	case "dd.span_id":
		if f.spanID == "" {
			f.spanID = ddSpanID(value)
		}
	}
}

func (f *bodyFields) done() bool { return f.level != "" && f.traceID != "" && f.spanID != "" }

// scanBody reads the fields of a JSON object body ({"level":"error",…},
// nested objects flattened with dots, so {"dd":{"trace_id":…}} is
// dd.trace_id) or of a logfmt body (level=error trace_id=…). Anything else
// yields no fields.
func scanBody(body string) bodyFields {
	var f bodyFields
	s := strings.TrimLeft(body, " \t\r\n")
	if strings.HasPrefix(s, "{") {
		scanJSON(&f, s)
	} else {
		scanLogfmt(&f, s)
	}
	return f
}

// maxJSONDepth bounds how deep scanJSON flattens nested objects.
const maxJSONDepth = 3

func scanJSON(f *bodyFields, s string) {
	iter, err := jsoniter.ParseString(jsoniter.ConfigDefault, s)
	if err != nil {
		return
	}
	scanJSONObject(f, iter, "", 0)
}

// scanJSONObject walks one object; it stops at the first malformed token,
// keeping what it found before it.
func scanJSONObject(f *bodyFields, iter *jsoniter.Iterator, prefix string, depth int) bool {
	for {
		k, err := iter.ReadObject()
		if err != nil || k == "" {
			return err == nil
		}
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		next, err := iter.WhatIsNext()
		if err != nil {
			return false
		}
		switch next {
		case jsoniter.StringValue:
			v, err := iter.ReadString()
			if err != nil {
				return false
			}
			f.set(key, v)
		case jsoniter.NumberValue:
			// Raw text, not float64: dd.trace_id is a 64-bit integer that a
			// float64 would round.
			b, err := iter.SkipAndReturnBytes()
			if err != nil {
				return false
			}
			f.set(key, string(b))
		case jsoniter.ObjectValue:
			if depth+1 >= maxJSONDepth {
				if iter.Skip() != nil {
					return false
				}
				continue
			}
			if !scanJSONObject(f, iter, key, depth+1) {
				return false
			}
		default:
			if iter.Skip() != nil {
				return false
			}
		}
		if f.done() {
			return true
		}
	}
}

// scanLogfmt reads key=value pairs separated by spaces; values may be
// double-quoted with Go/logfmt escapes. Words without '=' are skipped, so a
// text line with a few pairs in it ("GET /x took 3ms level=warn") works too.
func scanLogfmt(f *bodyFields, s string) {
	for len(s) > 0 && !f.done() {
		// Skip to the next key.
		i := 0
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		s = s[i:]
		end := 0
		for end < len(s) && s[end] != '=' && s[end] != ' ' && s[end] != '\t' {
			end++
		}
		key := s[:end]
		s = s[end:]
		if len(s) == 0 || s[0] != '=' {
			continue
		}
		s = s[1:]
		var value string
		if len(s) > 0 && s[0] == '"' {
			j := 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return // unterminated quote: nothing reliable follows
			}
			quoted := s[:j+1]
			s = s[j+1:]
			if u, err := strconv.Unquote(quoted); err == nil {
				value = u
			} else {
				value = quoted[1 : len(quoted)-1]
			}
		} else {
			j := 0
			for j < len(s) && s[j] != ' ' && s[j] != '\t' {
				j++
			}
			value, s = s[:j], s[j:]
		}
		if key != "" {
			f.set(key, value)
		}
	}
}

// hexTraceID normalises a hex trace ID found in a log (32 or 16 hex digits,
// any case) to 32 lower-case digits; an all-zero ID (OTLP's "no trace") and
// anything else yield "".
func hexTraceID(v string) string {
	if v == "" {
		return ""
	}
	id, err := models.NormalizeTraceID(v)
	if err != nil || id == "00000000000000000000000000000000" {
		return ""
	}
	return id
}

// hexSpanID is hexTraceID for span IDs (16 hex digits).
func hexSpanID(v string) string {
	if v == "" {
		return ""
	}
	id, err := models.NormalizeSpanID(v)
	if err != nil || id == "0000000000000000" {
		return ""
	}
	return id
}

// ddTraceID converts Datadog's dd.trace_id, the low 64 bits of the trace ID
// written as an unsigned decimal, to 16 hex digits left-padded with zeros to
// 32. Such an ID equals a Tempo trace ID only when the trace's high 64 bits
// are zero (64-bit IDs); tracers that log 128-bit IDs write 32 hex digits,
// which are accepted as they are.
func ddTraceID(v string) string {
	if n, ok := parseDecimalID(v); ok {
		return hexTraceID(strconv.FormatUint(n, 16))
	}
	return hexTraceID(v)
}

// ddSpanID converts Datadog's decimal dd.span_id to 16 hex digits.
func ddSpanID(v string) string {
	if n, ok := parseDecimalID(v); ok {
		return hexSpanID(strconv.FormatUint(n, 16))
	}
	return hexSpanID(v)
}

// parseDecimalID parses an unsigned 64-bit decimal ID. A 128-bit hex ID (32
// characters) is longer than any uint64, so it fails here and is read as hex.
func parseDecimalID(v string) (uint64, bool) {
	if v == "" || len(v) > 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}
