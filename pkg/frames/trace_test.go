package frames

import (
	"encoding/json"
	"flag"
	"os"
	"sort"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/tempo"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// The -update flag may also be declared by other test files of this
// package; whichever init runs first declares it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files of pkg/frames")
	}
}

func updateTraceGolden() bool {
	v, _ := flag.Lookup("update").Value.(flag.Getter).Get().(bool)
	return v
}

const traceTestID = "4bf92f3577b34da6a3ce929d0e0e4736"

// traceModel builds a merged model by hand from the recorded Tempo trace
// (decoded by the real decoder, tiers by the default rules) plus four log
// lines: one attached by span ID, one error line found in Loki and Kafka
// and attached by time, one attached before the span's own event, and a
// trace-level line attached to no span.
func traceModel(t *testing.T) *timeline.Model {
	t.Helper()
	b, err := os.ReadFile("../tempo/testdata/tempo_trace_v2.pb")
	require.NoError(t, err)
	res, err := tempo.Decode(tempo.APIv2, "application/protobuf", b)
	require.NoError(t, err)
	spans := res.Trace.Spans
	timeline.AssignTiers(spans, models.DefaultTierRules())
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].StartNs < spans[j].StartNs })

	logs := []timeline.Log{
		{LogRecord: &timeline.LogRecord{TimeNs: 1795710089290000000, Body: "GET /api/orders user=42", Severity: timeline.SeverityInfo,
			TraceID: traceTestID, SpanID: "00f067aa0ba90202", Service: "go-api", Source: timeline.SourceLoki},
			Sources: []string{timeline.SourceLoki}, AttachedSpanID: "00f067aa0ba90202", Attach: timeline.AttachSpanID, Tier: timeline.TierOther},
		{LogRecord: &timeline.LogRecord{TimeNs: 1795710089312000000, Body: "cache lookup orders:42", Severity: timeline.SeverityDebug,
			TraceID: traceTestID, SpanID: "00f067aa0ba90204", Service: "rails-api", Source: timeline.SourceLoki},
			Sources: []string{timeline.SourceLoki}, AttachedSpanID: "00f067aa0ba90204", Attach: timeline.AttachSpanID, Tier: timeline.TierOther},
		{LogRecord: &timeline.LogRecord{TimeNs: 1795710089340000000, Body: "audit: user 42 read orders", Severity: timeline.SeverityUnknown,
			Source: timeline.KafkaSource("audit")},
			Sources: []string{timeline.KafkaSource("audit")}, Attach: timeline.AttachNone, Tier: timeline.TierOther},
		{LogRecord: &timeline.LogRecord{TimeNs: 1795710089357000000, Body: "redis timeout after 7ms", Severity: timeline.SeverityError,
			TraceID: traceTestID, Source: timeline.SourceLoki},
			Sources: []string{timeline.SourceLoki, timeline.KafkaSource("otlp_logs")}, AttachedSpanID: "00f067aa0ba90208", Attach: timeline.AttachTime, Tier: timeline.TierRedis},
	}
	attached := map[string][]int{}
	for i, l := range logs {
		if l.AttachedSpanID != "" {
			attached[l.AttachedSpanID] = append(attached[l.AttachedSpanID], i)
		}
	}
	depth := map[string]int{}
	nodes := make([]timeline.SpanNode, len(spans))
	for i, s := range spans {
		d := 0
		if s.ParentSpanID != "" {
			d = depth[s.ParentSpanID] + 1 // parents start first in this trace
		}
		depth[s.SpanID] = d
		nodes[i] = timeline.SpanNode{Span: s, Depth: d, Logs: attached[s.SpanID], Error: s.StatusCode == timeline.StatusError}
	}
	m := &timeline.Model{TraceID: traceTestID, StartNs: nodes[0].StartNs, EndNs: nodes[0].EndNs, Spans: nodes, Logs: logs}
	return m
}

func traceOptions() Options {
	return Options{DatasourceUID: "traceweave-uid", DatasourceName: "Traceweave", TempoUID: "tempo-uid", LokiUID: "loki-uid"}
}

func TestTraceGolden(t *testing.T) {
	experimental.CheckGoldenJSONFrame(t, "testdata", "trace.golden", Trace(traceModel(t), traceOptions()), updateTraceGolden())
}

// TestTraceShape pins what Grafana's trace view reads: names, types and
// order of Grafana's Tempo datasource trace frame.
func TestTraceShape(t *testing.T) {
	f := Trace(traceModel(t), traceOptions())
	assert.Equal(t, NameTrace, f.Name)
	require.NotNil(t, f.Meta)
	assert.Equal(t, data.VisTypeTrace, string(f.Meta.PreferredVisualization))
	want := []struct {
		name string
		typ  data.FieldType
	}{
		{"traceID", data.FieldTypeString}, {"spanID", data.FieldTypeString}, {"parentSpanID", data.FieldTypeString},
		{"operationName", data.FieldTypeString}, {"serviceName", data.FieldTypeString}, {"kind", data.FieldTypeString},
		{"statusCode", data.FieldTypeInt64}, {"statusMessage", data.FieldTypeString},
		{"instrumentationLibraryName", data.FieldTypeString}, {"instrumentationLibraryVersion", data.FieldTypeString},
		{"traceState", data.FieldTypeString}, {"serviceTags", data.FieldTypeJSON}, {"startTime", data.FieldTypeFloat64},
		{"duration", data.FieldTypeFloat64}, {"logs", data.FieldTypeJSON}, {"references", data.FieldTypeJSON},
		{"tags", data.FieldTypeJSON},
	}
	require.Len(t, f.Fields, len(want))
	for i, w := range want {
		assert.Equal(t, w.name, f.Fields[i].Name, "field %d", i)
		assert.Equal(t, w.typ, f.Fields[i].Type(), "field %s", w.name)
	}
	rows, err := f.RowLen()
	require.NoError(t, err)
	require.Equal(t, 8, rows)

	row := func(spanID string) int {
		for i := 0; i < rows; i++ {
			if f.Fields[1].At(i).(string) == spanID {
				return i
			}
		}
		t.Fatalf("no row for span %s", spanID)
		return -1
	}
	cell := func(field string, i int, v any) {
		t.Helper()
		fi, _ := f.FieldByName(field)
		require.NoError(t, json.Unmarshal(fi.At(i).(json.RawMessage), v))
	}

	root := row("00f067aa0ba90201")
	assert.Equal(t, "", f.Fields[2].At(root))
	assert.Equal(t, "server", f.Fields[5].At(root))
	assert.Equal(t, int64(1), f.Fields[6].At(root))
	assert.InDelta(t, 1795710089284.8907, f.Fields[12].At(root), 0.001)
	assert.InDelta(t, 120.0, f.Fields[13].At(root), 1e-6)
	var tags []map[string]any
	cell("tags", root, &tags)
	assert.Contains(t, tags, map[string]any{"key": "tier", "value": "proxy"})
	assert.Contains(t, tags, map[string]any{"key": "http.response.status_code", "value": float64(200)})
	var svcTags []map[string]any
	cell("serviceTags", root, &svcTags)
	assert.Equal(t, []map[string]any{{"key": "deployment.environment", "value": "test"}, {"key": "service.name", "value": "go-proxy"}}, svcTags)

	// Span 04: the attached debug line comes before the span's own event.
	var logs []struct {
		Timestamp float64             `json:"timestamp"`
		Fields    []timeline.KeyValue `json:"fields"`
		Name      string              `json:"name"`
	}
	cell("logs", row("00f067aa0ba90204"), &logs)
	require.Len(t, logs, 2)
	assert.Equal(t, traceLogName, logs[0].Name)
	assert.Equal(t, "cache.miss", logs[1].Name)
	assert.Equal(t, []timeline.KeyValue{{Key: "cache.key", Value: "orders:42"}}, logs[1].Fields)

	// Span 08: error status and an error log attached by time from two sources.
	redis := row("00f067aa0ba90208")
	cell("tags", redis, &tags)
	assert.Contains(t, tags, map[string]any{"key": "error", "value": true})
	cell("logs", redis, &logs)
	require.Len(t, logs, 1)
	assert.Equal(t, []timeline.KeyValue{
		{Key: "body", Value: "redis timeout after 7ms"}, {Key: "severity", Value: "error"},
		{Key: "source", Value: "loki,kafka:otlp_logs"}, {Key: "attach", Value: "time"},
	}, logs[0].Fields)
	assert.InDelta(t, 1795710089357.0, logs[0].Timestamp, 1e-3)

	// The trace-level audit line is in no span.
	for i := 0; i < rows; i++ {
		fi, _ := f.FieldByName("logs")
		assert.NotContains(t, string(fi.At(i).(json.RawMessage)), "audit:")
	}
}

func TestTraceLinks(t *testing.T) {
	f := Trace(traceModel(t), traceOptions())
	spanLinks := f.Fields[1].Config.Links
	require.Len(t, spanLinks, 1)
	assert.Equal(t, "Logs for this span", spanLinks[0].Title)
	assert.Equal(t, "traceweave-uid", spanLinks[0].Internal.DatasourceUID)
	q, err := json.Marshal(spanLinks[0].Internal.Query)
	require.NoError(t, err)
	assert.JSONEq(t, `{"queryType":"logs","traceId":"${__data.fields.traceID}","spanId":"${__value.raw}"}`, string(q))

	traceLinks := f.Fields[0].Config.Links
	require.Len(t, traceLinks, 1)
	assert.Equal(t, "Open in Tempo", traceLinks[0].Title)
	assert.Equal(t, "tempo-uid", traceLinks[0].Internal.DatasourceUID)
	q, err = json.Marshal(traceLinks[0].Internal.Query)
	require.NoError(t, err)
	assert.JSONEq(t, `{"queryType":"traceql","query":"${__value.raw}"}`, string(q))

	bare := Trace(traceModel(t), Options{})
	assert.Nil(t, bare.Fields[0].Config, "no Tempo uid, no Tempo link")
	assert.Nil(t, bare.Fields[1].Config, "no datasource uid, no logs link")
}

func TestTraceEdgeCases(t *testing.T) {
	empty := Trace(nil, traceOptions())
	rows, err := empty.RowLen()
	require.NoError(t, err)
	assert.Zero(t, rows)
	assert.Len(t, empty.Fields, 17)

	m := &timeline.Model{TraceID: traceTestID, Spans: []timeline.SpanNode{
		{Span: timeline.Span{Name: "no id"}},
		{Span: timeline.Span{SpanID: "0000000000000001", Name: "bare", Kind: timeline.KindUnspecified,
			Attrs: []timeline.KeyValue{{Key: "error", Value: "boom"}},
			Links: []timeline.SpanLink{{TraceID: "0000000000000000000000000000000a", SpanID: "000000000000000b"}}},
			Error: true, Logs: []int{7, -1}},
	}}
	f := Trace(m, Options{})
	rows, err = f.RowLen()
	require.NoError(t, err)
	require.Equal(t, 1, rows, "a span without an ID is left out")
	assert.Equal(t, traceTestID, f.Fields[0].At(0), "trace ID falls back to the model's")
	assert.Equal(t, "", f.Fields[5].At(0), "unspecified kind is empty, as in Grafana")
	for _, name := range []string{"serviceTags", "logs"} {
		fi, _ := f.FieldByName(name)
		assert.Equal(t, "[]", string(fi.At(0).(json.RawMessage)), "%s is an empty array, never null; bad log indexes are skipped", name)
	}
	fi, _ := f.FieldByName("references")
	assert.JSONEq(t, `[{"spanID":"000000000000000b","traceID":"0000000000000000000000000000000a","tags":[]}]`, string(fi.At(0).(json.RawMessage)))
	fi, _ = f.FieldByName("tags")
	assert.JSONEq(t, `[{"key":"error","value":"boom"}]`, string(fi.At(0).(json.RawMessage)), "the span's own error attribute is kept, not duplicated")
}

// TestLogEntrySize checks the size guess of a span logs cell against what
// is written: never short for lines without escapes, and within 24 bytes
// plus the escape slack above it.
func TestLogEntrySize(t *testing.T) {
	span := &timeline.SpanNode{Span: timeline.Span{SpanID: "00f067aa0ba902b7", Service: "go-api"}}
	for _, l := range []timeline.Log{
		{LogRecord: &timeline.LogRecord{TimeNs: 1794648900142123456, Body: "GET /api/orders handled in 23ms", Severity: "info"}, Sources: []string{"loki"}},
		{LogRecord: &timeline.LogRecord{TimeNs: 1794648900142000000, Body: "x", Severity: "unknown", Service: "redis"}, Sources: []string{"loki", "kafka:otlp_logs"}, Attach: timeline.AttachTime},
		{LogRecord: &timeline.LogRecord{TimeNs: 1, Body: "", Severity: ""}},
	} {
		logs := []timeline.Log{l}
		span.Logs = []int{0}
		written := len(spanLogsJSON(span, logs, 0)) - 2 // the cell's brackets
		guess := logEntrySize(&logs[0], span.Service)
		require.GreaterOrEqual(t, guess, written, "%q", l.Body)
		require.LessOrEqual(t, guess-written, 24+len(l.Body)/8, "%q", l.Body)
	}
}
