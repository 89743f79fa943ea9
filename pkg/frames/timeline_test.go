package frames

import (
	"flag"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// The -update flag may be declared by several test files of this package;
// whichever init runs first declares it. It defaults to false so that a
// wrong change fails instead of rewriting the golden file.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files of pkg/frames")
	}
}

func updateTimelineGolden() bool {
	g, ok := flag.Lookup("update").Value.(flag.Getter)
	if !ok {
		return false
	}
	v, _ := g.Get().(bool)
	return v
}

const tlTrace = "4bf92f3577b34da6a3ce929d0e0e4736"

// tlAt is a fixed instant plus ms milliseconds, in ns.
func tlAt(ms float64) int64 { return 1_795_710_000_000_000_000 + int64(ms*1e6) }

// fiveTierModel is a hand-built request through all five tiers: go-proxy
// (0–100 ms) → go-api (5–95) → rails-api (10–90) → MySQL (20–40) and a
// failing Redis call (30–50, exception at 45), with lines from Loki and two
// Kafka topics, one of them found in both Loki and Kafka.
func fiveTierModel() *timeline.Model {
	sp := func(id, parent, service, tier, name string, start, end float64) timeline.Span {
		return timeline.Span{TraceID: tlTrace, SpanID: id, ParentSpanID: parent, Name: name, Service: service,
			Tier: tier, Kind: timeline.KindServer, StartNs: tlAt(start), EndNs: tlAt(end)}
	}
	tr := &timeline.Trace{TraceID: tlTrace, Spans: []timeline.Span{
		sp("00f067aa0ba90201", "", "go-proxy", timeline.TierProxy, "GET /api/orders", 0, 100),
		sp("00f067aa0ba90202", "00f067aa0ba90201", "go-api", timeline.TierGo, "GET /api/orders", 5, 95),
		sp("00f067aa0ba90204", "00f067aa0ba90202", "rails-api", timeline.TierRails, "OrdersController#index", 10, 90),
		sp("00f067aa0ba90206", "00f067aa0ba90204", "mysql", timeline.TierMySQL, "SELECT orders", 20, 40),
		sp("00f067aa0ba90208", "00f067aa0ba90204", "redis", timeline.TierRedis, "GET", 30, 50),
	}}
	tr.Spans[4].StatusCode = timeline.StatusError
	tr.Spans[4].Events = []timeline.SpanEvent{{TimeNs: tlAt(45), Name: "exception"}}
	log := func(src, service, spanID, sev, body string, at float64) timeline.LogRecord {
		tid := tlTrace
		if src == "kafka:syslog" {
			tid = "" // raw encoding drops the trace ID
		}
		return timeline.LogRecord{TimeNs: tlAt(at), Body: body, Severity: sev, TraceID: tid, SpanID: spanID, Service: service, Source: src}
	}
	loki := []timeline.LogRecord{
		log("loki", "go-proxy", "00f067aa0ba90201", "info", "proxying GET /api/orders", 1),
		log("loki", "rails-api", "00f067aa0ba90204", "info", "Started GET /orders", 11.25),
		log("loki", "rails-api", "", "error", "cache unavailable, falling back to MySQL", 52),
	}
	otlp := []timeline.LogRecord{
		log("kafka:otlp_logs", "rails-api", "00f067aa0ba90204", "info", "Started GET /orders", 11.5),
	}
	syslog := []timeline.LogRecord{
		log("kafka:syslog", "", "", "unknown", `"redis: connection reset by peer"`, 47),
	}
	return timeline.Merge(tr, loki, otlp, syslog)
}

func TestTimelineGolden(t *testing.T) {
	opts := Options{DatasourceUID: "traceweave-uid", DatasourceName: "Traceweave", TempoUID: "tempo-uid"}
	f := Timeline(fiveTierModel(), opts)
	experimental.CheckGoldenJSONFrame(t, "testdata", "timeline.golden", f, updateTimelineGolden())
}

func TestSummaryGolden(t *testing.T) {
	experimental.CheckGoldenJSONFrame(t, "testdata", "summary.golden", Summary(fiveTierModel()), updateTimelineGolden())
}

func column[T any](t *testing.T, f *data.Frame, name string) []T {
	t.Helper()
	field, idx := f.FieldByName(name)
	require.GreaterOrEqual(t, idx, 0, name)
	out := make([]T, field.Len())
	for i := range out {
		out[i] = field.At(i).(T)
	}
	return out
}

func TestTimelineRows(t *testing.T) {
	m := fiveTierModel()
	f := Timeline(m, Options{DatasourceUID: "tw"})
	require.Equal(t, NameTimeline, f.Name)
	// The contract's first ten fields, in order and type.
	want := []struct {
		name string
		typ  data.FieldType
	}{{"time", data.FieldTypeTime}, {"offset", data.FieldTypeFloat64}, {"kind", data.FieldTypeString},
		{"service", data.FieldTypeString}, {"tier", data.FieldTypeString}, {"name", data.FieldTypeString},
		{"duration", data.FieldTypeNullableFloat64}, {"spanId", data.FieldTypeString}, {"source", data.FieldTypeString},
		{"severity", data.FieldTypeString}, {"traceId", data.FieldTypeString}, {"critical", data.FieldTypeBool},
		{"firstError", data.FieldTypeBool}, {"depth", data.FieldTypeInt64}, {"attach", data.FieldTypeString}}
	require.Len(t, f.Fields, len(want))
	for i, w := range want {
		require.Equal(t, w.name, f.Fields[i].Name)
		require.Equal(t, w.typ, f.Fields[i].Type(), w.name)
	}
	// 5 spans + 4 logs (the Loki/Kafka duplicate is one row).
	require.Equal(t, 9, f.Rows())
	kinds := column[string](t, f, "kind")
	names := column[string](t, f, "name")
	sources := column[string](t, f, "source")
	services := column[string](t, f, "service")
	offsets := column[float64](t, f, "offset")
	firstErr := column[bool](t, f, "firstError")
	severities := column[string](t, f, "severity")
	depths := column[int64](t, f, "depth")
	for i := 1; i < f.Rows(); i++ {
		require.LessOrEqual(t, offsets[i-1], offsets[i], "sorted by time")
	}
	var marked []string
	for i := range kinds {
		if firstErr[i] {
			marked = append(marked, names[i])
		}
		switch names[i] {
		case "Started GET /orders":
			require.Equal(t, "loki,kafka:otlp_logs", sources[i])
			require.Equal(t, int64(3), depths[i], "one below rails (depth 2)")
		case "redis: connection reset by peer":
			require.Equal(t, "kafka:syslog", sources[i])
			require.Empty(t, services[i], "a raw line without service or span stays trace-level")
			require.Equal(t, int64(0), depths[i])
			require.Equal(t, 47.0, offsets[i])
		case "GET":
			require.Equal(t, "error", severities[i])
			require.Equal(t, timeline.SourceTempo, sources[i])
		case "OrdersController#index":
			require.Empty(t, severities[i], "a span whose status is not error")
		}
	}
	require.Equal(t, []string{"GET"}, marked, "the failing Redis span is the first error")
	require.Len(t, f.Meta.Notices, 1)
	require.Equal(t, "first error: redis GET at +45 ms", f.Meta.Notices[0].Text)
	dur, ok := f.Fields[6].ConcreteAt(indexOf(kinds, timeline.EventLog))
	require.False(t, ok, "logs have a null duration, got %v", dur)

	// Links: timeline and logs-of-span always; Tempo only with its uid.
	traceCfg := f.Fields[10].Config
	require.Len(t, traceCfg.Links, 1)
	require.Equal(t, map[string]any{"queryType": "timeline", "traceId": "${__value.raw}"}, traceCfg.Links[0].Internal.Query)
	require.Equal(t, "tw", traceCfg.Links[0].Internal.DatasourceUID)
	spanCfg := f.Fields[7].Config
	require.Equal(t, "Logs of this span", spanCfg.Links[0].Title)
	require.Equal(t, map[string]any{"queryType": "logs", "traceId": "${__data.fields.traceId}", "spanId": "${__value.raw}"}, spanCfg.Links[0].Internal.Query)

	withTempo := Timeline(m, Options{DatasourceUID: "tw", TempoUID: "tempo"})
	links := withTempo.Fields[10].Config.Links
	require.Len(t, links, 2)
	require.Equal(t, "Open in Tempo", links[1].Title)
	require.Equal(t, map[string]any{"queryType": "traceql", "query": "${__value.raw}"}, links[1].Internal.Query)

	bare := Timeline(m, Options{})
	require.Nil(t, bare.Fields[10].Config, "no link without a target datasource")
}

func indexOf(xs []string, x string) int {
	for i := range xs {
		if xs[i] == x {
			return i
		}
	}
	return -1
}

func TestTimelineNoErrorNoNotice(t *testing.T) {
	m := timeline.Merge(&timeline.Trace{TraceID: tlTrace, Spans: []timeline.Span{
		{TraceID: tlTrace, SpanID: "0000000000000001", Name: "op", Service: "svc", StartNs: tlAt(0), EndNs: tlAt(1)},
	}})
	f := Timeline(m, Options{})
	require.Empty(t, f.Meta.Notices)
	require.Equal(t, []string{timeline.TierOther}, column[string](t, f, "tier"), "a span no tier rule ran on")
	require.Equal(t, []bool{true}, column[bool](t, f, "critical"))
}

func TestSummaryRows(t *testing.T) {
	f := Summary(fiveTierModel())
	require.Equal(t, NameSummary, f.Name)
	// The Kafka raw line (no service, no trace or span ID) is the only "other" row content.
	require.Equal(t, []string{"proxy", "go", "rails", "mysql", "redis", "other"}, column[string](t, f, "tier"))
	require.Equal(t, []string{"go-proxy", "go-api", "rails-api", "mysql", "redis", ""}, column[string](t, f, "services"))
	require.Equal(t, []int64{1, 1, 1, 1, 1, 0}, column[int64](t, f, "spans"))
	// proxy 100-90, go 90-80, rails 80-(union 20..50 = 30), mysql 20, redis 20.
	require.Equal(t, []float64{10, 10, 50, 20, 20, 0}, column[float64](t, f, "selfTime"))
	require.Equal(t, []float64{0.1, 0.1, 0.5, 0.2, 0.2, 0}, column[float64](t, f, "share"))
	// redis: its failing span; rails: the rails-api error line, attached by time to the rails span.
	require.Equal(t, []int64{0, 0, 1, 0, 1, 0}, column[int64](t, f, "errors"))
	require.Equal(t, []int64{1, 0, 2, 0, 0, 1}, column[int64](t, f, "logs"))
	// The first error is a notice of the timeline frame only (one notice per fact); here it is meta.
	require.Equal(t, "first error: redis GET at +45 ms", f.Meta.Custom.(map[string]any)["firstError"])
	require.Len(t, f.Meta.Notices, 1)
	require.Equal(t, "slowest span: rails-api OrdersController#index, 50 ms self time (50% of the trace)", f.Meta.Notices[0].Text)

	// No colours configured by the default rules: every color cell is null.
	for i := range 6 {
		require.Nil(t, f.Fields[7].At(i))
	}

	empty := Summary(&timeline.Model{})
	require.Equal(t, 0, empty.Rows())
	require.Len(t, empty.Fields, 8)
}

// TestSummaryUserTiers: the user's tier names and colours reach the summary
// frame, and the timeline frame's tier field carries the same names.
func TestSummaryUserTiers(t *testing.T) {
	one := func(n int) *int { return &n }
	sp := func(id, parent, service, tier, name string, start, end float64) timeline.Span {
		return timeline.Span{TraceID: tlTrace, SpanID: id, ParentSpanID: parent, Name: name, Service: service,
			Tier: tier, Kind: timeline.KindServer, StartNs: tlAt(start), EndNs: tlAt(end)}
	}
	m := timeline.Merge(&timeline.Trace{TraceID: tlTrace, Spans: []timeline.Span{
		sp("00f067aa0ba90201", "", "envoy", "edge", "GET /checkout", 0, 100),
		sp("00f067aa0ba90202", "00f067aa0ba90201", "checkout", "checkout-api", "POST /checkout", 5, 95),
		sp("00f067aa0ba90203", "00f067aa0ba90202", "pg", "datastore", "INSERT orders", 10, 50),
	}, TierStyles: []models.TierStyle{
		{Tier: "datastore", Order: one(2), Color: "dark-green"},
		{Tier: "edge", Order: one(0), Color: "#8f3bb8"},
		{Tier: "checkout-api", Order: one(1)},
	}})
	f := Summary(m)
	require.Equal(t, []string{"edge", "checkout-api", "datastore"}, column[string](t, f, "tier"))
	colors := f.Fields[7]
	require.Equal(t, "color", colors.Name)
	require.Equal(t, "#8f3bb8", *colors.At(0).(*string))
	require.Nil(t, colors.At(1))
	require.Equal(t, "dark-green", *colors.At(2).(*string))
	tl := Timeline(m, Options{})
	require.Equal(t, []string{"edge", "checkout-api", "datastore"}, column[string](t, tl, "tier"))
}
