package tempo

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
)

// API versions of Tempo's trace-by-ID endpoint, as reported in Result.API.
const (
	// APIv2 is GET /api/v2/traces/{id} (Tempo ≥ 2.6): a TraceByIDResponse.
	APIv2 = "v2"
	// APIv1 is GET /api/traces/{id}: the Trace itself.
	APIv1 = "v1"
)

// Field numbers and values of tempopb.TraceByIDResponse, the v2 envelope.
// Declared here because this module must not import Tempo (AGPL).
const (
	fieldResponseTrace   protowire.Number = 1
	fieldResponseStatus  protowire.Number = 3
	fieldResponseMessage protowire.Number = 4
	statusPartial                         = 1
)

// Decode decodes one trace-by-ID response body of the given API (APIv2 or
// APIv1) and Content-Type into a Result. It is the only decoder the Client
// uses, exported so recorded responses can be decoded without a server (frame
// tests, tools). A body without spans is ErrTraceNotFound; anything that is
// not a Tempo trace in protobuf or JSON is ErrDecode. It never panics.
func Decode(api, contentType string, body []byte) (*Result, error) {
	if api != APIv2 && api != APIv1 {
		return nil, fmt.Errorf("%w: unknown API version %q", ErrDecode, api)
	}
	td, partial, message, err := decodeTraces(api, contentType, body)
	if err != nil {
		return nil, err
	}
	if td.SpanCount() == 0 {
		return nil, ErrTraceNotFound
	}
	spans := ConvertSpans(td)
	return &Result{
		Trace:   traceOf(spans),
		Partial: partial,
		Message: message,
		API:     api,
	}, nil
}

// decodeTraces picks the wire format from the Content-Type: Tempo honours
// Accept, but a proxy or an old Tempo may answer JSON anyway.
func decodeTraces(api, contentType string, body []byte) (ptrace.Traces, bool, string, error) {
	mt, err := mediaType(contentType)
	if err != nil {
		return ptrace.Traces{}, false, "", err
	}
	switch mt {
	case "application/protobuf", "application/x-protobuf":
		return decodeProto(api, body)
	case "application/json":
		return decodeJSON(api, body)
	default:
		return ptrace.Traces{}, false, "", fmt.Errorf("%w: unexpected Content-Type %q (want application/protobuf or application/json)", ErrDecode, clipBody([]byte(mt)))
	}
}

// mediaType is the media type of an answer's Content-Type, without its
// parameters; a missing or unreadable one is ErrDecode.
func mediaType(contentType string) (string, error) {
	if strings.TrimSpace(contentType) == "" {
		return "", fmt.Errorf("%w: the answer has no Content-Type", ErrDecode)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", fmt.Errorf("%w: unreadable Content-Type %q", ErrDecode, clipBody([]byte(contentType)))
	}
	return mt, nil
}

func decodeProto(api string, body []byte) (ptrace.Traces, bool, string, error) {
	traceBytes := body
	var partial bool
	var message string
	if api == APIv2 {
		var err error
		traceBytes, partial, message, err = unwrapTraceByIDResponse(body)
		if err != nil {
			return ptrace.Traces{}, false, "", err
		}
	}
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(traceBytes)
	if err != nil {
		// On error pdata returns a zero Traces whose methods panic: never use it.
		return ptrace.Traces{}, false, "", fmt.Errorf("%w: protobuf trace: %w", ErrDecode, err)
	}
	return td, partial, message, nil
}

// unwrapTraceByIDResponse reads the v2 envelope: the Trace (field 1, which
// is OTLP TracesData on the wire), status (3) and message (4). Other fields
// (metrics = 2, future ones) are skipped. A repeated field 1 is merged the
// protobuf way, by concatenation, since Trace holds only a repeated field.
func unwrapTraceByIDResponse(b []byte) (trace []byte, partial bool, message string, err error) {
	var chunks int
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false, "", fmt.Errorf("%w: TraceByIDResponse: %w", ErrDecode, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == fieldResponseTrace && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil, false, "", fmt.Errorf("%w: TraceByIDResponse.trace: %w", ErrDecode, protowire.ParseError(m))
			}
			if chunks == 0 {
				trace = v
			} else {
				trace = append(append([]byte(nil), trace...), v...)
			}
			chunks++
			b = b[m:]
		case num == fieldResponseStatus && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return nil, false, "", fmt.Errorf("%w: TraceByIDResponse.status: %w", ErrDecode, protowire.ParseError(m))
			}
			partial = v == statusPartial
			b = b[m:]
		case num == fieldResponseMessage && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil, false, "", fmt.Errorf("%w: TraceByIDResponse.message: %w", ErrDecode, protowire.ParseError(m))
			}
			message = string(v)
			b = b[m:]
		case num == fieldResponseTrace || num == fieldResponseStatus || num == fieldResponseMessage:
			return nil, false, "", fmt.Errorf("%w: TraceByIDResponse field %d has wire type %d", ErrDecode, num, typ)
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return nil, false, "", fmt.Errorf("%w: TraceByIDResponse field %d: %w", ErrDecode, num, protowire.ParseError(m))
			}
			b = b[m:]
		}
	}
	return trace, partial, message, nil
}

// decodeJSON handles Tempo's JSON: v2 {"trace":{…},"status":…,"message":…},
// v1 {"batches":[…]}. Tempo writes IDs as base64 (gogo/jsonpb) while pdata's
// JSON unmarshaler wants OTLP/JSON hex, and pdata silently ignores "batches";
// normalizeTempoJSON rewrites both before pdata sees the document.
func decodeJSON(api string, body []byte) (ptrace.Traces, bool, string, error) {
	if !isJSONObject(body) {
		return ptrace.Traces{}, false, "", fmt.Errorf("%w: the JSON answer is not an object", ErrDecode)
	}
	raw := body
	var partial bool
	var message string
	if api == APIv2 {
		var env struct {
			Trace   json.RawMessage `json:"trace"`
			Status  json.RawMessage `json:"status"`
			Message string          `json:"message"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return ptrace.Traces{}, false, "", fmt.Errorf("%w: JSON TraceByIDResponse: %w", ErrDecode, err)
		}
		p, err := parseJSONStatus(env.Status)
		if err != nil {
			return ptrace.Traces{}, false, "", err
		}
		partial, message, raw = p, env.Message, env.Trace
		if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
			return ptrace.NewTraces(), partial, message, nil
		}
		if !isJSONObject(raw) {
			return ptrace.Traces{}, false, "", fmt.Errorf("%w: JSON TraceByIDResponse.trace is not an object", ErrDecode)
		}
	}
	doc, err := normalizeTempoJSON(raw)
	if err != nil {
		return ptrace.Traces{}, false, "", err
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(doc)
	if err != nil {
		return ptrace.Traces{}, false, "", fmt.Errorf("%w: JSON trace: %w", ErrDecode, err)
	}
	return td, partial, message, nil
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}

// parseJSONStatus accepts the enum by name (protobuf JSON) or by number.
func parseJSONStatus(raw json.RawMessage) (bool, error) {
	s := strings.TrimSpace(string(raw))
	switch s {
	case "", "null", `"COMPLETE"`, "0":
		return false, nil
	case `"PARTIAL"`, "1":
		return true, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n == statusPartial, nil
	}
	return false, fmt.Errorf("%w: unknown TraceByIDResponse status %s", ErrDecode, clipBody(raw))
}

// normalizeTempoJSON rewrites a Tempo JSON Trace into OTLP/JSON that pdata
// decodes faithfully: "batches" (v1) becomes "resourceSpans", the pre-1.0
// "instrumentationLibrarySpans"/"instrumentationLibrary" become
// "scopeSpans"/"scope", and base64 IDs become hex.
func normalizeTempoJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep 64-bit integers exact on the way through
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("%w: JSON trace: %w", ErrDecode, err)
	}
	if top == nil {
		return nil, fmt.Errorf("%w: JSON trace is null", ErrDecode)
	}
	var rss []any
	for _, key := range []string{"resourceSpans", "resource_spans", "batches"} {
		v, ok := top[key]
		if !ok || v == nil {
			continue
		}
		arr, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: JSON trace: %q is not an array", ErrDecode, key)
		}
		rss = append(rss, arr...)
	}
	for _, rsv := range rss {
		rs, ok := rsv.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: JSON trace: a resource span is not an object", ErrDecode)
		}
		if err := normalizeResourceSpans(rs); err != nil {
			return nil, err
		}
	}
	if rss == nil {
		rss = []any{}
	}
	out, err := json.Marshal(map[string]any{"resourceSpans": rss})
	if err != nil {
		return nil, fmt.Errorf("%w: JSON trace: %w", ErrDecode, err)
	}
	return out, nil
}

func normalizeResourceSpans(rs map[string]any) error {
	if v, ok := rs["instrumentationLibrarySpans"]; ok {
		delete(rs, "instrumentationLibrarySpans")
		if _, has := rs["scopeSpans"]; !has {
			rs["scopeSpans"] = v
		}
	}
	for _, key := range []string{"scopeSpans", "scope_spans"} {
		v, ok := rs[key]
		if !ok || v == nil {
			continue
		}
		sss, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%w: JSON trace: %q is not an array", ErrDecode, key)
		}
		for _, ssv := range sss {
			ss, ok := ssv.(map[string]any)
			if !ok {
				return fmt.Errorf("%w: JSON trace: a scope span is not an object", ErrDecode)
			}
			if lib, ok := ss["instrumentationLibrary"]; ok {
				delete(ss, "instrumentationLibrary")
				if _, has := ss["scope"]; !has {
					ss["scope"] = lib
				}
			}
			if err := normalizeSpans(ss["spans"]); err != nil {
				return err
			}
		}
	}
	return nil
}

func normalizeSpans(v any) error {
	if v == nil {
		return nil
	}
	spans, ok := v.([]any)
	if !ok {
		return fmt.Errorf("%w: JSON trace: \"spans\" is not an array", ErrDecode)
	}
	for _, sv := range spans {
		span, ok := sv.(map[string]any)
		if !ok {
			return fmt.Errorf("%w: JSON trace: a span is not an object", ErrDecode)
		}
		if err := normalizeIDs(span, traceIDFields, spanIDFields, parentIDFields); err != nil {
			return err
		}
		if lv, ok := span["links"]; ok && lv != nil {
			links, ok := lv.([]any)
			if !ok {
				return fmt.Errorf("%w: JSON trace: \"links\" is not an array", ErrDecode)
			}
			for _, l := range links {
				link, ok := l.(map[string]any)
				if !ok {
					return fmt.Errorf("%w: JSON trace: a link is not an object", ErrDecode)
				}
				if err := normalizeIDs(link, traceIDFields, spanIDFields); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// idFields lists the JSON names (camelCase and proto names, both accepted
// by pdata) of one ID and its size in bytes.
type idFields struct {
	names [2]string
	size  int
}

var (
	traceIDFields  = idFields{[2]string{"traceId", "trace_id"}, 16}
	spanIDFields   = idFields{[2]string{"spanId", "span_id"}, 8}
	parentIDFields = idFields{[2]string{"parentSpanId", "parent_span_id"}, 8}
)

func normalizeIDs(obj map[string]any, fields ...idFields) error {
	for _, f := range fields {
		for _, name := range f.names {
			v, ok := obj[name]
			if !ok || v == nil {
				continue
			}
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("%w: JSON trace: %q is not a string", ErrDecode, name)
			}
			h, err := idToHex(s, f.size)
			if err != nil {
				return fmt.Errorf("%w: JSON trace: %s: %w", ErrDecode, name, err)
			}
			obj[name] = h
		}
	}
	return nil
}

// idToHex accepts an ID as hex (OTLP/JSON, 2×size digits) or base64 (Tempo,
// gogo jsonpb; padded or not, standard or URL alphabet) and returns hex. The
// two cannot be confused: hex of the right length decodes as base64 to 1.5×
// as many bytes, never to size bytes.
func idToHex(s string, size int) (string, error) {
	if s == "" {
		return "", nil
	}
	if len(s) == 2*size {
		if _, err := hex.DecodeString(s); err == nil {
			return strings.ToLower(s), nil
		}
	}
	t := strings.TrimRight(s, "=")
	t = strings.NewReplacer("-", "+", "_", "/").Replace(t)
	b, err := base64.RawStdEncoding.DecodeString(t)
	if err != nil {
		return "", fmt.Errorf("%q is neither hex nor base64", clipBody([]byte(s)))
	}
	if len(b) != size {
		return "", fmt.Errorf("%q decodes to %d bytes, want %d", clipBody([]byte(s)), len(b), size)
	}
	return hex.EncodeToString(b), nil
}
