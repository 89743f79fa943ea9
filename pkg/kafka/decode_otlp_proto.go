package kafka

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/traceweave/traceweave/pkg/timeline"
)

var protoLogs plog.ProtoUnmarshaler

// decodeOTLPProto decodes a kafkaexporter otlp_proto message (an OTLP
// ExportLogsServiceRequest, the same bytes as plog's LogsData) holding any
// number of log records.
func decodeOTLPProto(dst []timeline.LogRecord, value []byte, c *recordContext) ([]timeline.LogRecord, error) {
	logs, err := protoLogs.UnmarshalLogs(value)
	if err != nil {
		// pdata returns a zero Logs on error; it must not be touched.
		return dst, fmt.Errorf("%w: otlp_proto: %v", errUndecodable, err)
	}
	return appendOTLP(dst, logs, c), nil
}

// appendOTLP appends the records of the searched traces: those whose trace
// ID is a searched one, and those without a trace ID whose body names a
// searched // (host logs shipped by the filelog receiver carry the ID only in their
// text). A record with another trace's ID never matches.
func appendOTLP(dst []timeline.LogRecord, logs plog.Logs, c *recordContext) []timeline.LogRecord {
	index := 0
	rls := logs.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		resAttrs := rl.Resource().Attributes()
		service := ""
		if v, ok := resAttrs.Get("service.name"); ok {
			service = validUTF8(v.AsString())
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
				case tid.IsEmpty():
					body = lr.Body().AsString()
					if !c.matchNoTraceID(body) {
						continue
					}
				case c.matchRawID(tid):
					body = lr.Body().AsString()
				default:
					continue
				}
				rec := timeline.LogRecord{
					TimeNs:   otlpTime(lr, c),
					Body:     validUTF8(body),
					Severity: otlpSeverity(lr),
					TraceID:  c.traceID(),
					Service:  service,
					Labels:   otlpLabels(resAttrs, lr.Attributes()),
					Source:   c.source,
					ID:       c.id(idx),
				}
				if sid := lr.SpanID(); !sid.IsEmpty() {
					rec.SpanID = hex.EncodeToString(sid[:])
				}
				dst = append(dst, rec)
				c.kept()
			}
		}
	}
	return dst
}

// otlpTime is the record's time, else its observed time, else the Kafka
// record time.
func otlpTime(lr plog.LogRecord, c *recordContext) int64 {
	if t := int64(lr.Timestamp()); t > 0 {
		return t
	}
	if t := int64(lr.ObservedTimestamp()); t > 0 {
		return t
	}
	return c.kafkaTimeNs
}

// otlpSeverity prefers severity_text (what the application logged) and falls
// back to the severity number.
func otlpSeverity(lr plog.LogRecord) string {
	if s := timeline.NormalizeSeverity(lr.SeverityText()); s != timeline.SeverityUnknown {
		return s
	}
	if n := lr.SeverityNumber(); n > 0 {
		return timeline.NormalizeSeverity(strconv.Itoa(int(n)))
	}
	return timeline.SeverityUnknown
}

// otlpLabels flattens resource then record attributes (a record attribute
// wins over a resource attribute of the same key) to strings.
func otlpLabels(res, attrs pcommon.Map) timeline.Labels {
	if res.Len()+attrs.Len() == 0 {
		return nil
	}
	out := make([]timeline.Label, 0, res.Len()+attrs.Len())
	// Keys too: protobuf strings are not checked for UTF-8 by pdata.
	for k, v := range res.All() {
		out = append(out, timeline.Label{Name: validUTF8(k), Value: validUTF8(v.AsString())})
	}
	for k, v := range attrs.All() {
		out = append(out, timeline.Label{Name: validUTF8(k), Value: validUTF8(v.AsString())})
	}
	return timeline.NewLabels(out)
}
