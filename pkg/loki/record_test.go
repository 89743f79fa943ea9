package loki

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

const (
	wantSpan = "00f067aa0ba90207"
	// ddTrace is what a 64-bit Datadog ID of the fixture trace converts to.
	ddTrace = "0000000000000000a3ce929d0e0e4736"
)

var (
	ddTraceDec = strconv.FormatUint(0xa3ce929d0e0e4736, 10)
	ddSpanDec  = strconv.FormatUint(0x00f067aa0ba90207, 10)
)

type recordCase struct {
	name     string
	stream   map[string]string
	sm       map[string]string
	body     string
	trace    string
	span     string
	severity string
	service  string
}

var recordCases = []recordCase{
	// Structured metadata spellings.
	{name: "sm trace_id", sm: map[string]string{"trace_id": fixtureTraceID, "span_id": wantSpan}, body: "a", trace: fixtureTraceID, span: wantSpan},
	{name: "sm traceid", sm: map[string]string{"traceid": fixtureTraceID, "spanid": wantSpan}, body: "b", trace: fixtureTraceID, span: wantSpan},
	{name: "sm traceID", sm: map[string]string{"traceID": fixtureTraceID, "spanID": wantSpan}, body: "c", trace: fixtureTraceID, span: wantSpan},
	{name: "sm traceId upper-case hex", sm: map[string]string{"traceId": "4BF92F3577B34DA6A3CE929D0E0E4736", "spanId": "00F067AA0BA90207"}, body: "d", trace: fixtureTraceID, span: wantSpan},
	{name: "sm wins over body", sm: map[string]string{"trace_id": fixtureTraceID, "span_id": wantSpan}, body: "trace_id=11111111111111111111111111111111 span_id=2222222222222222", trace: fixtureTraceID, span: wantSpan},
	// JSON bodies.
	{name: "json trace_id", body: `{"level":"error","trace_id":"` + fixtureTraceID + `","span_id":"` + wantSpan + `"}`, trace: fixtureTraceID, span: wantSpan, severity: timeline.SeverityError},
	{name: "json traceId", body: `{"msg":"x","severity":"WARN","traceId":"` + fixtureTraceID + `","spanId":"` + wantSpan + `"}`, trace: fixtureTraceID, span: wantSpan, severity: timeline.SeverityWarn},
	{name: "json traceID", body: ` {"lvl":"debug","traceID":"` + fixtureTraceID + `","spanID":"` + wantSpan + `"}`, trace: fixtureTraceID, span: wantSpan, severity: timeline.SeverityDebug},
	{name: "json trace.id", body: `{"trace.id":"` + fixtureTraceID + `","span.id":"` + wantSpan + `","log.level":"fatal"}`, trace: fixtureTraceID, span: wantSpan, severity: timeline.SeverityCritical},
	{name: "json nested trace.id", body: `{"trace":{"id":"` + fixtureTraceID + `"},"span":{"id":"` + wantSpan + `"}}`, trace: fixtureTraceID, span: wantSpan},
	{name: "json dd strings", body: `{"dd.trace_id":"` + ddTraceDec + `","dd.span_id":"` + ddSpanDec + `"}`, trace: ddTrace, span: wantSpan},
	{name: "json dd nested numbers", body: `{"dd":{"trace_id":` + ddTraceDec + `,"span_id":` + ddSpanDec + `},"status":"info"}`, trace: ddTrace, span: wantSpan},
	{name: "json dd 128-bit hex", body: `{"dd.trace_id":"` + fixtureTraceID + `"}`, trace: fixtureTraceID},
	{name: "json keys any case", body: `{"TRACE_ID":"` + fixtureTraceID + `","Span_Id":"` + wantSpan + `","LEVEL":"Error"}`, trace: fixtureTraceID, span: wantSpan, severity: timeline.SeverityError},
	{name: "json 64-bit hex", body: `{"trace_id":"a3ce929d0e0e4736"}`, trace: ddTrace},
	// logfmt bodies.
	{name: "logfmt trace_id", body: `level=error msg="boom \"x\"" trace_id=` + fixtureTraceID + ` span_id=` + wantSpan, trace: fixtureTraceID, span: wantSpan, severity: timeline.SeverityError},
	{name: "logfmt traceId", body: `lvl=warn traceId=` + fixtureTraceID + ` spanId=` + wantSpan, trace: fixtureTraceID, span: wantSpan, severity: timeline.SeverityWarn},
	{name: "logfmt traceID quoted", body: `severity="WARNING" traceID="` + fixtureTraceID + `" spanID="` + wantSpan + `"`, trace: fixtureTraceID, span: wantSpan, severity: timeline.SeverityWarn},
	{name: "logfmt trace.id", body: `GET /orders 200 trace.id=` + fixtureTraceID + ` span.id=` + wantSpan, trace: fixtureTraceID, span: wantSpan},
	{name: "logfmt dd", body: `dd.trace_id=` + ddTraceDec + ` dd.span_id=` + ddSpanDec + ` level=info`, trace: ddTrace, span: wantSpan, severity: timeline.SeverityInfo},
	// Not IDs.
	{name: "not hex", body: `trace_id=not-a-trace span_id=xyz`},
	{name: "all zero", body: `{"trace_id":"00000000000000000000000000000000","span_id":"0000000000000000"}`},
	{name: "plain text", body: "Completed 200 OK in 12ms " + fixtureTraceID},
	{name: "broken json", body: `{"level":"error","trace_id":"` + fixtureTraceID + `",`, trace: fixtureTraceID, severity: timeline.SeverityError},
	// Severity from labels.
	{name: "severity_text", sm: map[string]string{"severity_text": "ERROR", "detected_level": "error"}, body: "level=debug", severity: timeline.SeverityError},
	{name: "severity_number", sm: map[string]string{"severity_number": "13"}, body: "e", severity: timeline.SeverityWarn},
	{name: "level label", stream: map[string]string{"job": "x", "level": "warning"}, body: "f", severity: timeline.SeverityWarn, service: "x"},
	{name: "detected_level unknown falls back to body", sm: map[string]string{"detected_level": "unknown"}, body: "level=error", severity: timeline.SeverityError},
	{name: "detected_level", sm: map[string]string{"detected_level": "debug"}, body: "g", severity: timeline.SeverityDebug},
	// Service fallbacks.
	{name: "service label", stream: map[string]string{"service": "svc", "app": "a", "job": "j"}, body: "h", service: "svc"},
	{name: "app label", stream: map[string]string{"app": "a", "job": "j"}, body: "i", service: "a"},
}

// TestRecordFields serves one line per case through an httptest Loki and
// checks what Query derives from labels and body.
func TestRecordFields(t *testing.T) {
	var lines []fakeLine
	for i, rc := range recordCases {
		stream := rc.stream
		if stream == nil {
			stream = map[string]string{"service_name": "rails-api"}
		}
		lines = append(lines, fakeLine{stream: stream, sm: rc.sm, ts: pageBase + int64(i), line: rc.body})
	}
	query := BuildQueries(models.DefaultLokiSelector, models.TraceFilterAuto, fixtureTraceID)[0]
	srv := startFake(t, &fakeLoki{byQuery: map[string][]fakeLine{query: lines}})
	c := newTestClient(t, srv.URL, nil)
	res, err := c.Query(context.Background(), fixtureTraceID, pageBase, pageBase+int64(len(lines)))
	require.NoError(t, err)
	require.Len(t, res.Records, len(recordCases))
	for i, rc := range recordCases {
		t.Run(rc.name, func(t *testing.T) {
			r := res.Records[i]
			require.Equal(t, rc.body, r.Body)
			assert.Equal(t, rc.trace, r.TraceID, "trace")
			assert.Equal(t, rc.span, r.SpanID, "span")
			want := rc.severity
			if want == "" {
				want = timeline.SeverityUnknown
			}
			assert.Equal(t, want, r.Severity, "severity")
			if rc.service == "" {
				rc.service = "rails-api"
			}
			assert.Equal(t, rc.service, r.Service, "service")
		})
	}
}

func TestStreamSelectorEscapes(t *testing.T) {
	sel := streamSelector([]timeline.Label{{Name: "a", Value: `x"y`}, {Name: "b", Value: `back\slash`}, {Name: "c", Value: "new\nline"}, {Name: "d", Value: "ünï"}})
	assert.Equal(t, `{a="x\"y", b="back\\slash", c="new\nline", d="ünï"}`, sel)
}

func TestDecodeDropsAutoFilterLabel(t *testing.T) {
	// The plain encoding of an auto-filter answer: Loki lists the helper
	// label with the stream labels.
	body := `{"status":"success","data":{"resultType":"streams","result":[` +
		`{"stream":{"job":"a","log_line_contains_trace_id":"true"},"values":[["1","x trace_id=` + fixtureTraceID + `"]]},` +
		`{"stream":{"job":"a"},"values":[["2","y",{"structuredMetadata":{"trace_id":"` + fixtureTraceID + `"},"parsed":{"log_line_contains_trace_id":"false"}}]]}]}}`
	entries, err := decodeResponse(strings.NewReader(body))
	require.NoError(t, err)
	require.Len(t, entries, 2)
	for _, e := range entries {
		assert.Equal(t, `{job="a"}`, e.rec.Labels.Get(StreamLabel))
		assert.NotContains(t, e.rec.Labels.Map(), lineMatchLabel)
		assert.Equal(t, fixtureTraceID, e.rec.TraceID)
	}
	assert.Equal(t, entries[0].stream, entries[1].stream, "one stream, whatever the helper label said")
}
