package plugin

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/tracing"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

const (
	spanTestTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	spanTestTopic   = "otlp_logs"
	lokiSecret      = "s3cr3t-loki-pw"
)

var spanTestStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// recordSpans installs an in-memory span recorder as the tracer the SDK's
// tracing.DefaultTracer() returns (and so the SDK's HTTP client tracing
// middleware too), with the W3C trace-context propagator Grafana
// configures, and restores the previous ones after the test.
func recordSpans(t *testing.T) *tracetest.SpanRecorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prevTracer, prevProp := tracing.DefaultTracer(), otel.GetTextMapPropagator()
	tracing.InitDefaultTracer(tp.Tracer("traceweave-test"))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		tracing.InitDefaultTracer(prevTracer)
		otel.SetTextMapPropagator(prevProp)
		_ = tp.Shutdown(context.Background())
	})
	return rec
}

// traceparents collects the traceparent header of every request a fake
// upstream received.
type traceparents struct {
	mu   sync.Mutex
	seen []string
}

func (p *traceparents) add(r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, r.Header.Get("traceparent"))
}

func (p *traceparents) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func tempoServer(t *testing.T, tp *traceparents) *httptest.Server {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "api")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	var tid pcommon.TraceID
	_, err := hex.Decode(tid[:], []byte(spanTestTraceID))
	require.NoError(t, err)
	sp.SetTraceID(tid)
	sp.SetSpanID(pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, 1})
	sp.SetName("GET /orders")
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(spanTestStart))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(spanTestStart.Add(time.Second)))
	raw, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	body := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), raw)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tp.add(r)
		if r.URL.Path != "/api/v2/traces/"+spanTestTraceID {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/protobuf")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// lokiServer answers every query_range with one line at the trace's start,
// or, when failing, a 500 that echoes the request's credentials back.
func lokiServer(t *testing.T, tp *traceparents, failing bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tp.add(r)
		if failing {
			_, pw, _ := r.BasicAuth()
			http.Error(w, "no such tenant for password "+pw, http.StatusInternalServerError)
			return
		}
		line := fmt.Sprintf("level=info msg=hello trace_id=%s", spanTestTraceID)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"status": "success",
			"data": map[string]any{"resultType": "streams", "result": []any{
				map[string]any{"stream": map[string]string{"service_name": "api"},
					"values": [][2]string{{strconv.FormatInt(spanTestStart.Add(100*time.Millisecond).UnixNano(), 10), line}}},
			}},
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// kafkaCluster is a fake broker whose topic holds one OTLP log record of
// the trace.
func kafkaCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, spanTestTopic))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty()
	lr.Resource().Attributes().PutStr("service.name", "api")
	r := lr.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	var tid pcommon.TraceID
	_, err = hex.Decode(tid[:], []byte(spanTestTraceID))
	require.NoError(t, err)
	r.SetTraceID(tid)
	r.SetTimestamp(pcommon.NewTimestampFromTime(spanTestStart.Add(200 * time.Millisecond)))
	r.Body().SetStr("from kafka")
	raw, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: spanTestTopic, Value: raw, Timestamp: spanTestStart.Add(300 * time.Millisecond)}).FirstErr())
	return c
}

func spanTestDatasource(t *testing.T, tempoURL, lokiURL string, brokers []string) *Datasource {
	t.Helper()
	raw, err := json.Marshal(map[string]any{
		"tempo": map[string]any{"url": tempoURL},
		"loki":  map[string]any{"url": lokiURL, "basicAuthUser": "grafana"},
		"kafka": map[string]any{"brokers": brokers, "topics": []any{map[string]any{"name": spanTestTopic}}},
	})
	require.NoError(t, err)
	inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{
		UID: "tw", Name: "Traceweave", JSONData: raw,
		DecryptedSecureJSONData: map[string]string{"lokiPassword": lokiSecret},
	})
	require.NoError(t, err)
	d := inst.(*Datasource)
	require.NoError(t, d.settingsErr)
	t.Cleanup(d.Dispose)
	return d
}

func queryTrace(t *testing.T, d *Datasource, refIDs ...string) *backend.QueryDataResponse {
	t.Helper()
	req := &backend.QueryDataRequest{}
	for _, id := range refIDs {
		req.Queries = append(req.Queries, backend.DataQuery{
			RefID:     id,
			QueryType: "timeline",
			JSON:      []byte(fmt.Sprintf(`{"traceId":%q,"frames":["trace","logs"]}`, spanTestTraceID)),
			TimeRange: backend.TimeRange{From: spanTestStart.Add(-time.Hour), To: spanTestStart.Add(time.Hour)},
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := d.QueryData(ctx, req)
	require.NoError(t, err)
	return resp
}

func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

func named(ss []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range ss {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func childOf(t *testing.T, child, parent sdktrace.ReadOnlySpan) {
	t.Helper()
	require.Equal(t, parent.SpanContext().SpanID(), child.Parent().SpanID(),
		"%s must be a child of %s", child.Name(), parent.Name())
	require.Equal(t, parent.SpanContext().TraceID(), child.SpanContext().TraceID())
}

func TestQuerySpanTree(t *testing.T) {
	rec := recordSpans(t)
	var tp traceparents
	d := spanTestDatasource(t, tempoServer(t, &tp).URL, lokiServer(t, &tp, false).URL, kafkaCluster(t).ListenAddrs())

	resp := queryTrace(t, d, "A")
	require.NoError(t, resp.Responses["A"].Error)
	ended := rec.Ended()

	queries := named(ended, "traceweave.query")
	require.Len(t, queries, 1)
	query := queries[0]
	require.Equal(t, "run", attrs(query)["traceweave.run"])
	require.Equal(t, "A", attrs(query)["traceweave.ref_id"])

	runs := named(ended, "traceweave.run")
	require.Len(t, runs, 1)
	run := runs[0]
	childOf(t, run, query)
	require.Equal(t, spanTestTraceID, attrs(run)["traceweave.trace_id"])
	require.Equal(t, "true", attrs(run)["traceweave.tempo.found"])

	tempoSpans := named(ended, "traceweave.tempo")
	require.Len(t, tempoSpans, 1)
	childOf(t, tempoSpans[0], run)
	require.Equal(t, "1", attrs(tempoSpans[0])["traceweave.tempo.spans"])

	lokiSpans := named(ended, "traceweave.loki.query_range")
	require.NotEmpty(t, lokiSpans)
	for _, s := range lokiSpans {
		childOf(t, s, run)
		a := attrs(s)
		require.NotEmpty(t, a["traceweave.loki.start"])
		require.NotEmpty(t, a["traceweave.loki.end"])
		require.NotEmpty(t, a["traceweave.loki.limit"])
		require.Equal(t, codes.Unset, s.Status().Code)
	}
	lines := 0
	for _, s := range lokiSpans {
		n, err := strconv.Atoi(attrs(s)["traceweave.loki.lines"])
		require.NoError(t, err)
		lines += n
	}
	require.Equal(t, 1, lines)

	topics := named(ended, "traceweave.kafka.topic")
	require.Len(t, topics, 1)
	childOf(t, topics[0], run)
	ka := attrs(topics[0])
	require.Equal(t, spanTestTopic, ka["messaging.destination.name"])
	require.Equal(t, "kafka", ka["messaging.system"])
	require.Equal(t, "1", ka["traceweave.kafka.partitions"])
	require.Equal(t, "1", ka["traceweave.kafka.partitions_read"])
	require.Equal(t, "1", ka["traceweave.kafka.records_scanned"])
	require.Equal(t, "1", ka["traceweave.kafka.records_matched"])

	merges := named(ended, "traceweave.merge")
	require.Len(t, merges, 1)
	childOf(t, merges[0], run)
	require.Equal(t, "2", attrs(merges[0])["traceweave.merge.logs"])

	fs := named(ended, "traceweave.frame")
	require.Len(t, fs, 2)
	got := map[string]string{}
	for _, s := range fs {
		childOf(t, s, query)
		got[attrs(s)["traceweave.frame"]] = attrs(s)["traceweave.frame.rows"]
	}
	require.Equal(t, map[string]string{"trace": "1", "logs": "2"}, got)

	// Tempo and Loki saw the plugin's trace: every request carried a
	// traceparent of the query's trace ID, from the SDK's HTTP span.
	seen := tp.all()
	require.Len(t, seen, 1+len(lokiSpans))
	want := query.SpanContext().TraceID().String()
	for _, h := range seen {
		sc := parseTraceparent(t, h)
		require.Equal(t, want, sc.TraceID().String(), "traceparent %q", h)
	}
}

func parseTraceparent(t *testing.T, h string) trace.SpanContext {
	t.Helper()
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier{"Traceparent": {h}})
	sc := trace.SpanContextFromContext(ctx)
	require.True(t, sc.IsValid(), "traceparent %q", h)
	return sc
}

func TestSharedRunSpans(t *testing.T) {
	rec := recordSpans(t)
	var tp traceparents
	d := spanTestDatasource(t, tempoServer(t, &tp).URL, lokiServer(t, &tp, false).URL, kafkaCluster(t).ListenAddrs())
	queryTrace(t, d, "A")
	queryTrace(t, d, "B")
	ended := rec.Ended()
	require.Len(t, named(ended, "traceweave.run"), 1, "the second query reuses the kept run")
	via := map[string]string{}
	for _, s := range named(ended, "traceweave.query") {
		via[attrs(s)["traceweave.ref_id"]] = attrs(s)["traceweave.run"]
	}
	require.Equal(t, map[string]string{"A": "run", "B": "kept"}, via)
}

func TestFailedUpstreamSpanIsScrubbed(t *testing.T) {
	rec := recordSpans(t)
	var tp traceparents
	d := spanTestDatasource(t, tempoServer(t, &tp).URL, lokiServer(t, &tp, true).URL, kafkaCluster(t).ListenAddrs())
	resp := queryTrace(t, d, "A")
	require.NoError(t, resp.Responses["A"].Error, "Tempo and Kafka answered")
	ended := rec.Ended()

	lokiSpans := named(ended, "traceweave.loki.query_range")
	require.NotEmpty(t, lokiSpans)
	for _, s := range lokiSpans {
		require.Equal(t, codes.Error, s.Status().Code)
		require.Contains(t, s.Status().Description, "500")
		require.NotEmpty(t, s.Events())
		require.Equal(t, "exception", s.Events()[0].Name)
	}
	for _, s := range ended {
		text := s.Name() + " " + s.Status().Description
		for _, kv := range s.Attributes() {
			text += " " + kv.Value.Emit()
		}
		for _, ev := range s.Events() {
			for _, kv := range ev.Attributes {
				text += " " + kv.Value.Emit()
			}
		}
		require.False(t, strings.Contains(text, lokiSecret), "span %s leaks the password: %s", s.Name(), text)
	}
	require.Equal(t, codes.Unset, named(ended, "traceweave.tempo")[0].Status().Code)
}
