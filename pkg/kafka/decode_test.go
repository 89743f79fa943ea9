package kafka

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/timeline"
)

func decodeOne(t *testing.T, dec decodeFunc, value string) []timeline.LogRecord {
	t.Helper()
	m, err := newTraceMatcher(testTrace)
	require.NoError(t, err)
	c := &recordContext{m: m, topic: "t", source: "kafka:t", kafkaTimeNs: testBase.UnixNano()}
	recs, err := dec(nil, []byte(value), c)
	require.NoError(t, err)
	return recs
}

func TestDecodeTextSeverityAndIDs(t *testing.T) {
	for _, tc := range []struct {
		line, severity, span string
		match                bool
	}{
		{"<11>1 host app: trace_id=" + testTrace, timeline.SeverityError, "", true},
		{"<30>Nov 14 host systemd[1]: started " + testTrace, timeline.SeverityInfo, "", true},
		{"level=warn msg=slow trace_id=" + testTrace + " span_id=00F067AA0BA90201", timeline.SeverityWarn, "00f067aa0ba90201", true},
		{"[ERROR] " + strings.ToUpper(testTrace), timeline.SeverityError, "", true},
		{"stack trace follows for " + testTrace, timeline.SeverityUnknown, "", true},
		{"no error here " + testTrace, timeline.SeverityUnknown, "", true},
		{"app: crit: disk " + testTrace, timeline.SeverityCritical, "", true},
		{`{"traceId":"` + testTrace + `"} logged`, timeline.SeverityUnknown, "", true},
		{"traceId: " + testTrace, timeline.SeverityUnknown, "", true},
		{"trace_id=" + otherTrace + " caused by " + testTrace, "", "", false},
		{"nothing here", "", "", false},
		{"span_id=zz " + testTrace, timeline.SeverityUnknown, "", true},
	} {
		recs := decodeOne(t, decodeText, tc.line)
		if !tc.match {
			assert.Empty(t, recs, tc.line)
			continue
		}
		require.Len(t, recs, 1, tc.line)
		assert.Equal(t, tc.severity, recs[0].Severity, tc.line)
		assert.Equal(t, tc.span, recs[0].SpanID, tc.line)
		assert.Equal(t, "t/0/0/0", recs[0].ID)
	}
}

func TestDecodeJSONFieldSpellings(t *testing.T) {
	want := time.Date(2026, 11, 14, 10, 0, 2, 123e6, time.UTC).UnixNano()
	for _, line := range []string{
		`{"time":"2026-11-14T10:00:02.123Z","msg":"m","TraceID":"` + testTrace + `"}`,
		`{"Timestamp":1794650402123,"Message":"m","trace.id":"` + testTrace + `"}`,
		`{"ts":"1794650402.123","log":"m","trace":{"id":"` + testTrace + `"}}`,
		`{"@timestamp":"2026-11-14 10:00:02.123Z","body":"m","traceid":"S/kvNXezTaajzpKdDg5HNg=="}`,
		`{"ts":1794650402123000000,"message":"m","trace_id":"` + strings.ToUpper(testTrace) + `"}`,
	} {
		recs := decodeOne(t, decodeJSON, line)
		require.Len(t, recs, 1, line)
		assert.Equal(t, "m", recs[0].Body, line)
		assert.InDelta(t, want, recs[0].TimeNs, 1e3, line)
		assert.Nil(t, recs[0].Labels, line)
	}
	recs := decodeOne(t, decodeJSON, `{"msg":"m","log":{"level":"warning"},"service":{"name":"rails-api"},"span_id":"00f067aa0ba90205","time":"yesterday","trace_id":"`+testTrace+`"}`)
	require.Len(t, recs, 1)
	assert.Equal(t, timeline.SeverityWarn, recs[0].Severity)
	assert.Equal(t, "rails-api", recs[0].Service)
	assert.Equal(t, "00f067aa0ba90205", recs[0].SpanID)
	assert.Equal(t, testBase.UnixNano(), recs[0].TimeNs, "an unparsable time falls back to the Kafka time")
	assert.Equal(t, map[string]string{"time": "yesterday"}, recs[0].Labels.Map(), "and stays visible as a label")
	assert.Empty(t, decodeOne(t, decodeJSON, `{"msg":"`+testTrace+`","trace_id":"`+otherTrace+`"}`), "an explicit other trace wins over text")
}

func TestDecodeRawBodies(t *testing.T) {
	recs := decodeOne(t, decodeRaw, `"line with \"quotes\" and `+testTrace+`"`)
	require.Len(t, recs, 1)
	assert.Equal(t, `line with "quotes" and `+testTrace, recs[0].Body)
	recs = decodeOne(t, decodeRaw, `["array", "`+testTrace+`"]`)
	require.Len(t, recs, 1)
	assert.Equal(t, `["array", "`+testTrace+`"]`, recs[0].Body)
}
