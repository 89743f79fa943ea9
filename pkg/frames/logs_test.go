package frames

import (
	"encoding/json"
	"flag"
	"math/rand/v2"
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

// labelsRow is one row's input to the labels cell.
type labelsRow struct {
	labels          timeline.Labels
	traceID, spanID string
}

// checkLabelsCells runs rows through one labelsCells (with hash, when not
// nil, in place of labelsHash) and requires each cell to be byte for byte
// what logsLabelsJSON gives the row alone; it returns the cells.
func checkLabelsCells(t *testing.T, rows []labelsRow, tableRows int, hash func(timeline.Labels, string, string) uint64) []json.RawMessage {
	t.Helper()
	c := newLabelsCells(tableRows)
	c.hash = hash
	cells := make([]json.RawMessage, len(rows))
	for i, r := range rows {
		cells[i] = c.of(r.labels, r.traceID, r.spanID)
		require.Equal(t, string(logsLabelsJSON(r.labels, r.traceID, r.spanID)), string(cells[i]), "row %d", i)
	}
	return cells
}

// TestLabelsCellsEqualPerRowEncoding checks the shared cells against the
// per-row encoding for rows with a shared slice, equal but separate slices,
// differing sets, and sets whose shown labels depend on the row's IDs, with
// the real hash, a hash that puts every set in one way's reach (all equal:
// only the full comparison tells sets apart) and a one-bucket table that
// must evict.
func TestLabelsCellsEqualPerRowEncoding(t *testing.T) {
	const tid, sid, sid2 = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba90202", "00f067aa0ba90207"
	stream := timeline.LabelsFromMap(map[string]string{"service_name": "go-api", "env": "prod", logsStreamLabel: `{service_name="go-api"}`})
	kafka := func() timeline.Labels { // a new slice with the same contents each call
		return timeline.LabelsFromMap(map[string]string{"service.name": "rails-api", "host.name": "web-1", "http.route": "/orders"})
	}
	withIDs := timeline.LabelsFromMap(map[string]string{"service_name": "go-api", "trace_id": tid, "span_id": sid})
	rows := []labelsRow{
		{stream, tid, sid},
		{stream, tid, sid2}, // shared slice, other span: same cell
		{stream, "", ""},
		{kafka(), tid, sid},
		{kafka(), tid, sid2}, // equal but separate: same cell
		{kafka(), "", ""},
		{timeline.LabelsFromMap(map[string]string{"service.name": "rails-api", "host.name": "web-2", "http.route": "/orders"}), tid, sid},
		{timeline.LabelsFromMap(map[string]string{"service.name": "rails-api", "host.name": "web-1"}), tid, sid}, // a prefix of kafka's
		{withIDs, tid, sid},  // both IDs left out: shows service_name only
		{withIDs, tid, sid2}, // span_id of another span: kept
		{withIDs, "", sid},   // trace_id kept
		{withIDs, tid, sid},  // as the first withIDs row
		{timeline.LabelsFromMap(map[string]string{"service_name": "go-api"}), "", ""}, // shows what withIDs showed for (tid, sid)
		{timeline.LabelsFromMap(map[string]string{"service_name": "go-api", "traceId": tid}), tid, ""},
		{nil, tid, sid},
		{timeline.LabelsFromMap(map[string]string{logsStreamLabel: "{}", "trace_id": tid}), tid, sid}, // nothing shown
		{timeline.Labels{{Name: "a", Value: "b\"c"}, {Name: "x\x00", Value: "\xff"}}, "", ""},
		{timeline.Labels{{Name: "a", Value: "b\"c"}, {Name: "x\x00", Value: "\xfe"}}, "", ""},
	}
	same := func(a, b json.RawMessage) bool { return &a[0] == &b[0] }
	for _, c := range []struct {
		name      string
		tableRows int
		hash      func(timeline.Labels, string, string) uint64
	}{
		{"labelsHash", len(rows), nil},
		{"one hash for all", len(rows), func(timeline.Labels, string, string) uint64 { return 0x0123456789abcdef }},
		{"one bucket", 1, func(timeline.Labels, string, string) uint64 { return 42 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cells := checkLabelsCells(t, rows, c.tableRows, c.hash)
			require.True(t, same(cells[0], cells[1]), "a Loki stream's lines share the cell")
			require.True(t, same(cells[3], cells[4]), "equal sets in separate slices share the cell")
			require.False(t, same(cells[0], cells[3]))
			require.False(t, same(cells[8], cells[9]), "what the IDs leave out differs")
			require.True(t, same(cells[8], cells[11]))
			require.True(t, same(cells[8], cells[12]), "shown labels decide, not the slice")
			require.Equal(t, `{"service_name":"go-api"}`, string(cells[8]))
			require.Equal(t, `{"service_name":"go-api","span_id":"00f067aa0ba90202"}`, string(cells[9]))
			require.Equal(t, `{"service_name":"go-api","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`, string(cells[10]))
			require.Equal(t, "{}", string(cells[14]))
			require.Equal(t, "{}", string(cells[15]))
		})
	}
}

// TestLabelsCellsRandom runs random rows drawn from a few names and values
// (ID labels among them, equal to the row's IDs or not; shared slices and
// fresh copies) through labelsCells with the real hash and with weak ones,
// and requires every cell to equal the per-row encoding.
func TestLabelsCellsRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 2026))
	ids := []string{"", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba90202", "00f067aa0ba90207"}
	names := []string{"a", "service_name", "trace_id", "span_id", "traceId", "spanid", logsStreamLabel, "zz"}
	values := append([]string{"x", "go-api", "rails-api"}, ids[1:]...)
	var pool []timeline.Labels
	rows := make([]labelsRow, 5000)
	for i := range rows {
		var ls timeline.Labels
		if len(pool) > 0 && rng.IntN(3) > 0 {
			ls = pool[rng.IntN(len(pool))]
			if rng.IntN(2) == 0 {
				ls = slices.Clone(ls) // equal contents, own slice
			}
		} else {
			var pairs []timeline.Label
			for range rng.IntN(5) {
				pairs = append(pairs, timeline.Label{Name: names[rng.IntN(len(names))], Value: values[rng.IntN(len(values))]})
			}
			ls = timeline.NewLabels(pairs)
			pool = append(pool, ls)
		}
		rows[i] = labelsRow{ls, ids[rng.IntN(len(ids))], ids[rng.IntN(len(ids))]}
	}
	for _, c := range []struct {
		name string
		hash func(timeline.Labels, string, string) uint64
	}{
		{"labelsHash", nil},
		{"constant", func(timeline.Labels, string, string) uint64 { return 0 }},
		{"length", func(ls timeline.Labels, _, _ string) uint64 { return uint64(len(ls)) << 60 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, tableRows := range []int{1, 16, len(rows)} {
				checkLabelsCells(t, rows, tableRows, c.hash)
			}
		})
	}
}

// BenchmarkLogsLabels100k encodes the labels column of the 100k-line
// models row by row (per_row, the encoding before labelsCells) and through
// labelsCells (cells), in one run. The rows' labels and IDs are gathered
// first: Logs reads each record once for all its columns, so the time of
// reaching a record is not the labels cell's.
func BenchmarkLogsLabels100k(b *testing.B) {
	type row struct {
		labels          timeline.Labels
		traceID, spanID string
	}
	for _, model := range []struct {
		name string
		meta bool
	}{{"metadata", true}, {"stream_labels", false}} {
		m := cachedBenchModel(1_000, 100_000, model.meta)
		rows := make([]row, len(m.Logs))
		for i := range m.Logs {
			rows[i] = row{m.Logs[i].Labels, m.Logs[i].TraceID, m.Logs[i].SpanID}
		}
		out := make([]json.RawMessage, len(rows))
		b.Run(model.name+"/per_row", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				for j := range rows {
					out[j] = logsLabelsJSON(rows[j].labels, rows[j].traceID, rows[j].spanID)
				}
			}
		})
		b.Run(model.name+"/cells", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				c := newLabelsCells(len(rows))
				for j := range rows {
					out[j] = c.of(rows[j].labels, rows[j].traceID, rows[j].spanID)
				}
			}
		})
	}
}
