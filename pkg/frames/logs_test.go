package frames

import (
	"encoding/json"
	"flag"
	"slices"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/loki"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// The -update flag rewrites golden files; it defaults to false so a wrong
// change cannot pass on a second run. Other test files of this package may
// define it too, so it is looked up rather than declared twice.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files of pkg/frames")
	}
}

func updateGolden() bool {
	g, ok := flag.Lookup("update").Value.(flag.Getter)
	if !ok {
		return false
	}
	v, _ := g.Get().(bool)
	return v
}

const logsTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"

// logsModel is a hand-built merged model with the three kinds of log line
// the merge produces.
func logsModel() *timeline.Model {
	return &timeline.Model{
		TraceID: logsTraceID,
		StartNs: 1795710089284890718,
		EndNs:   1795710089404890718,
		Logs: []timeline.Log{
			{
				// A Loki line that names its span; its stream has a value that
				// needs escaping in LogQL.
				LogRecord: &timeline.LogRecord{
					TimeNs:   1795710089289890718,
					Body:     `level=info msg="GET /api/orders" service=go-api`,
					Severity: timeline.SeverityInfo,
					TraceID:  logsTraceID,
					SpanID:   "00f067aa0ba90202",
					Service:  "go-api",
					Labels: timeline.LabelsFromMap(map[string]string{
						"service_name": "go-api", "job": `fixture/"push"`, "detected_level": "info",
						"trace_id": logsTraceID, "span_id": "00f067aa0ba90202",
						logsStreamLabel: `{job="fixture/\"push\"", service_name="go-api"}`,
					}),
					Source: timeline.SourceLoki,
					ID:     "1795710089289890718_5e6a1b1c2d3e4f50",
				},
				Sources:        []string{timeline.SourceLoki},
				AttachedSpanID: "00f067aa0ba90202",
				Attach:         timeline.AttachSpanID,
				Tier:           timeline.TierGo,
			},
			{
				// Found in Loki and in Kafka, no span ID of its own: placed by time.
				LogRecord: &timeline.LogRecord{
					TimeNs:   1795710089349890719,
					Body:     "otlp: GET completed in 10ms",
					Severity: timeline.SeverityError,
					TraceID:  logsTraceID,
					Service:  "rails-api",
					Labels: timeline.LabelsFromMap(map[string]string{
						"service_name": "rails-api", "severity_text": "ERROR",
						logsStreamLabel: `{service_name="rails-api"}`,
						// Another span's ID (the line was placed by time): kept.
						"span_id": "00f067aa0ba90999",
					}),
					Source: timeline.SourceLoki,
					ID:     "1795710089349890719_0123456789abcdef",
				},
				Sources:        []string{timeline.SourceLoki, timeline.KafkaSource("otlp_logs")},
				AttachedSpanID: "00f067aa0ba90207",
				Attach:         timeline.AttachTime,
				Tier:           timeline.TierRails,
			},
			{
				// A Kafka-only raw line: no labels, no IDs, not attached.
				LogRecord: &timeline.LogRecord{
					TimeNs:   1795710089404890718,
					Body:     "audit: user=42 action=read " + logsTraceID,
					Severity: timeline.SeverityUnknown,
					Source:   timeline.KafkaSource("audit"),
					ID:       "audit/0/17/0",
				},
				Sources: []string{timeline.KafkaSource("audit")},
				Attach:  timeline.AttachNone,
				Tier:    timeline.TierOther,
			},
		},
	}
}

func logsOptions() Options {
	return Options{DatasourceUID: "traceweave-uid", DatasourceName: "Traceweave", LokiUID: "loki-uid", LokiSelector: `{service_name=~".+"}`}
}

func TestLogsGolden(t *testing.T) {
	opts := logsOptions()
	experimental.CheckGoldenJSONFrame(t, "testdata", "logs_loki.golden", Logs(logsModel(), opts), updateGolden())
	opts.LokiUID = ""
	experimental.CheckGoldenJSONFrame(t, "testdata", "logs.golden", Logs(logsModel(), opts), updateGolden())
}

func fieldByName(t *testing.T, f *data.Frame, name string) *data.Field {
	t.Helper()
	field, idx := f.FieldByName(name)
	require.NotEqual(t, -1, idx, "field %s", name)
	return field
}

func TestLogsShape(t *testing.T) {
	f := Logs(logsModel(), logsOptions())
	assert.Equal(t, NameLogs, f.Name)
	require.NotNil(t, f.Meta)
	assert.Equal(t, data.FrameTypeLogLines, f.Meta.Type)
	assert.Equal(t, data.VisType(data.VisTypeLogs), f.Meta.PreferredVisualization)
	var names []string
	for _, fld := range f.Fields {
		names = append(names, fld.Name)
	}
	assert.Equal(t, []string{"timestamp", "body", "severity", "id", "labels", "traceId", "spanId", "source", "service", "tier", "attach", "stream"}, names)
	assert.Equal(t, data.FieldTypeTime, fieldByName(t, f, "timestamp").Type())
	assert.Equal(t, data.FieldTypeJSON, fieldByName(t, f, "labels").Type())

	ts := fieldByName(t, f, "timestamp")
	assert.Equal(t, time.Unix(0, 1795710089289890718).UTC(), ts.At(0))

	// The stream selector is a field, not a label.
	var labels map[string]string
	require.NoError(t, json.Unmarshal(fieldByName(t, f, "labels").At(0).(json.RawMessage), &labels))
	assert.NotContains(t, labels, logsStreamLabel)
	assert.Equal(t, `fixture/"push"`, labels["job"])
	assert.JSONEq(t, `{}`, string(fieldByName(t, f, "labels").At(2).(json.RawMessage)))

	stream := fieldByName(t, f, "stream")
	assert.Equal(t, `{job="fixture/\"push\"", service_name="go-api"}`, stream.At(0))
	assert.Equal(t, "", stream.At(2), "Kafka lines have no stream")

	// spanId: the attached span, else the line's own; traceId: the line's, else the model's.
	assert.Equal(t, "00f067aa0ba90207", fieldByName(t, f, "spanId").At(1))
	assert.Equal(t, "", fieldByName(t, f, "spanId").At(2))
	assert.Equal(t, logsTraceID, fieldByName(t, f, "traceId").At(2))
	assert.Equal(t, "loki,kafka:otlp_logs", fieldByName(t, f, "source").At(1))

	links := func(name string) []data.DataLink {
		cfg := fieldByName(t, f, name).Config
		require.NotNil(t, cfg, name)
		require.Len(t, cfg.Links, 1, name)
		return cfg.Links
	}
	tl := links("traceId")[0]
	assert.Equal(t, "Trace timeline", tl.Title)
	assert.Equal(t, "traceweave-uid", tl.Internal.DatasourceUID)
	assert.Equal(t, map[string]any{"queryType": "timeline", "traceId": "${__value.raw}"}, tl.Internal.Query)
	sl := links("spanId")[0]
	assert.Equal(t, "Logs of this span", sl.Title)
	assert.Equal(t, map[string]any{"queryType": "logs", "traceId": "${__data.fields.traceId}", "spanId": "${__value.raw}"}, sl.Internal.Query)
	ll := links("stream")[0]
	assert.Equal(t, "Open in Loki", ll.Title)
	assert.Equal(t, "loki-uid", ll.Internal.DatasourceUID)
	assert.Equal(t, `${__value.raw} |= "${__data.fields.traceId}"`, ll.Internal.Query.(map[string]any)["expr"])
}

func TestLogsWithoutUIDsHasNoLinks(t *testing.T) {
	f := Logs(logsModel(), Options{})
	for _, fld := range f.Fields {
		assert.NotEqual(t, "stream", fld.Name)
		if fld.Config != nil {
			assert.Empty(t, fld.Config.Links, fld.Name)
		}
	}
}

func TestLogsEmptyModel(t *testing.T) {
	for _, m := range []*timeline.Model{nil, {TraceID: logsTraceID}} {
		f := Logs(m, logsOptions())
		assert.Equal(t, NameLogs, f.Name)
		n, err := f.RowLen()
		require.NoError(t, err)
		assert.Zero(t, n)
		assert.Len(t, f.Fields, 12)
	}
}

// TestLogsStreamLabelMatchesLoki keeps the stream label in step with the
// producer of Loki records.
func TestLogsStreamLabelMatchesLoki(t *testing.T) {
	assert.Equal(t, loki.StreamLabel, logsStreamLabel)
}

// TestLogsLabelsJSONMatchesEncodingJSON checks the hand encoder against
// encoding/json byte for byte (sorted keys, escapes, invalid UTF-8), and
// that only the stream selector and ID labels repeating the line's own IDs
// are left out.
func TestLogsLabelsJSONMatchesEncodingJSON(t *testing.T) {
	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba90207"
	cases := []struct {
		labels  map[string]string
		dropped []string
	}{
		{labels: nil},
		{labels: map[string]string{logsStreamLabel: `{a="b"}`}, dropped: []string{logsStreamLabel}},
		{labels: map[string]string{"service_name": "rails-api", "b": `quote " back \ slash`, "a": "tab\tnl\ncr\r\x01", "u": "ünï\xff"}},
		{labels: map[string]string{"trace_id": tid, "span_id": sid, "x": "1"}, dropped: []string{"trace_id", "span_id"}},
		// IDs of another trace or span say something the fields do not: kept.
		{labels: map[string]string{"trace_id": "0af7651916cd43dd8448eb211c80319c", "spanId": "00f067aa0ba90999"}},
	}
	for _, c := range cases {
		shown := map[string]string{}
		for k, v := range c.labels {
			if !slices.Contains(c.dropped, k) {
				shown[k] = v
			}
		}
		want, err := json.Marshal(shown)
		require.NoError(t, err)
		got := logsLabelsJSON(timeline.LabelsFromMap(c.labels), tid, sid)
		require.Equal(t, string(want), string(got))
	}
}

func BenchmarkLogsLabelsJSON(b *testing.B) {
	labels := timeline.LabelsFromMap(map[string]string{"service_name": "rails-api", "env": "prod", "severity_text": "INFO", "span_id": "00f067aa0ba90207",
		"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "http_route": "/orders", "code_function": "GET", "scope_name": "rails", "host": "h1"})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = logsLabelsJSON(labels, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba90207")
	}
}
