package tempo

import (
	"encoding/base64"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// UnknownService is the service of spans whose resource has no service.name,
// the name the OpenTelemetry SDKs themselves fall back to.
const UnknownService = "unknown_service"

const (
	attrServiceName      = "service.name"
	attrServiceNamespace = "service.namespace"
)

// ConvertSpans turns pdata traces into timeline spans, in upstream order. It
// is the one place OTLP is mapped to the timeline model, whatever wire format
// the trace came in. Tier is left empty for timeline.AssignTiers.
//
// Spans of one resource share their ResourceAttrs slice (a 10k-span trace
// has a handful of resources): treat it as read-only.
func ConvertSpans(td ptrace.Traces) []timeline.Span {
	out := make([]timeline.Span, 0, td.SpanCount())
	// Every span of a trace-by-ID answer has the same trace ID: encode it
	// once instead of allocating a hex string per span.
	var lastTID pcommon.TraceID
	lastTIDHex := ""
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		resAttrs := convertAttrs(res)
		service, namespace := UnknownService, ""
		if v, ok := res.Get(attrServiceName); ok && v.AsString() != "" {
			service = v.AsString()
		}
		if v, ok := res.Get(attrServiceNamespace); ok {
			namespace = v.AsString()
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope := ss.Scope()
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				status := s.Status()
				if tid := s.TraceID(); tid != lastTID || lastTIDHex == "" {
					lastTID, lastTIDHex = tid, tid.String()
				}
				out = append(out, timeline.Span{
					TraceID:          lastTIDHex,
					SpanID:           s.SpanID().String(),
					ParentSpanID:     s.ParentSpanID().String(),
					Name:             s.Name(),
					Service:          service,
					ServiceNamespace: namespace,
					Kind:             convertKind(s.Kind()),
					StatusCode:       convertStatus(status.Code()),
					StatusMessage:    status.Message(),
					StartNs:          clampNs(uint64(s.StartTimestamp())),
					EndNs:            clampNs(uint64(s.EndTimestamp())),
					ResourceAttrs:    resAttrs,
					Attrs:            convertAttrs(s.Attributes()),
					Events:           convertEvents(s.Events()),
					Links:            convertLinks(s.Links()),
					ScopeName:        scope.Name(),
					ScopeVersion:     scope.Version(),
					TraceState:       s.TraceState().AsRaw(),
				})
			}
		}
	}
	return out
}

// traceOf wraps spans in a Trace named by the first span's trace ID (all
// spans of a trace-by-ID answer share it).
func traceOf(spans []timeline.Span) timeline.Trace {
	t := timeline.Trace{Spans: spans}
	for i := range spans {
		if spans[i].TraceID != "" {
			t.TraceID = spans[i].TraceID
			break
		}
	}
	return t
}

// clampNs keeps a corrupt uint64 timestamp from wrapping negative.
func clampNs(ns uint64) int64 {
	if ns > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(ns)
}

func convertKind(k ptrace.SpanKind) string {
	switch k {
	case ptrace.SpanKindInternal:
		return timeline.KindInternal
	case ptrace.SpanKindServer:
		return timeline.KindServer
	case ptrace.SpanKindClient:
		return timeline.KindClient
	case ptrace.SpanKindProducer:
		return timeline.KindProducer
	case ptrace.SpanKindConsumer:
		return timeline.KindConsumer
	default:
		return timeline.KindUnspecified
	}
}

func convertStatus(c ptrace.StatusCode) int64 {
	switch c {
	case ptrace.StatusCodeOk:
		return timeline.StatusOK
	case ptrace.StatusCodeError:
		return timeline.StatusError
	default:
		return timeline.StatusUnset
	}
}

func convertAttrs(m pcommon.Map) []timeline.KeyValue {
	if m.Len() == 0 {
		return nil
	}
	out := make([]timeline.KeyValue, 0, m.Len())
	for k, v := range m.All() {
		out = append(out, timeline.KeyValue{Key: k, Value: convertValue(v)})
	}
	return out
}

func convertEvents(es ptrace.SpanEventSlice) []timeline.SpanEvent {
	if es.Len() == 0 {
		return nil
	}
	out := make([]timeline.SpanEvent, es.Len())
	for i := range out {
		e := es.At(i)
		out[i] = timeline.SpanEvent{
			TimeNs: clampNs(uint64(e.Timestamp())),
			Name:   e.Name(),
			Attrs:  convertAttrs(e.Attributes()),
		}
	}
	return out
}

func convertLinks(ls ptrace.SpanLinkSlice) []timeline.SpanLink {
	if ls.Len() == 0 {
		return nil
	}
	out := make([]timeline.SpanLink, ls.Len())
	for i := range out {
		l := ls.At(i)
		out[i] = timeline.SpanLink{
			TraceID: l.TraceID().String(),
			SpanID:  l.SpanID().String(),
			Attrs:   convertAttrs(l.Attributes()),
		}
	}
	return out
}

// convertValue maps an OTLP AnyValue to a JSON-encodable Go value (see
// timeline.KeyValue). Bytes become base64 as in OTLP/JSON; NaN and ±Inf
// become strings because encoding/json refuses them and one odd attribute
// must not fail a whole frame.
func convertValue(v pcommon.Value) any {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeInt:
		return v.Int()
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return v.AsString()
		}
		return f
	case pcommon.ValueTypeBytes:
		return base64.StdEncoding.EncodeToString(v.Bytes().AsRaw())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		out := make([]any, s.Len())
		for i := range out {
			out[i] = convertValue(s.At(i))
		}
		return out
	case pcommon.ValueTypeMap:
		m := v.Map()
		out := make(map[string]any, m.Len())
		for k, mv := range m.All() {
			out[k] = convertValue(mv)
		}
		return out
	default:
		return nil
	}
}
