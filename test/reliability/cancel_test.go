package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/traceweave/traceweave/internal/harness"
	"github.com/traceweave/traceweave/pkg/engine"
	"github.com/traceweave/traceweave/pkg/models"
)

// stalledUpstreams are Tempo answering at once, Loki stalling and a Kafka
// topic whose Fetch never returns: a query is in flight on all three.
type stalledUpstreams struct {
	tempo, loki *upstream
	kafka       *kfake.Cluster
	fetching    chan struct{}
}

func newStalledUpstreams(t *testing.T) *stalledUpstreams {
	s := &stalledUpstreams{
		tempo:    newTempo(t, faultNone, tempoAuth{}),
		loki:     newLoki(t, faultSlow, tempoAuth{}),
		kafka:    newKafka(t, false),
		fetching: make(chan struct{}, 64),
	}
	onAuditFetch(t, s.kafka, func(*kmsg.FetchRequest) (kmsg.Response, error) {
		select {
		case s.fetching <- struct{}{}:
		default:
		}
		return nil, nil // never answer
	})
	return s
}

func (s *stalledUpstreams) jsonData() map[string]any {
	return map[string]any{
		"tempo": map[string]any{"url": s.tempo.URL},
		"loki":  map[string]any{"url": s.loki.URL},
		"kafka": map[string]any{"brokers": s.kafka.ListenAddrs(), "topics": kafkaTopics()},
	}
}

// waitInFlight returns once Loki and Kafka both hold a request of the query.
func (s *stalledUpstreams) waitInFlight(t *testing.T) {
	t.Helper()
	for _, ch := range []chan struct{}{s.loki.entered, s.fetching} {
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			t.Fatal("the query never reached every upstream")
		}
	}
}

// TestCancelStopsUpstreamWorkInProcess runs the engine in this process,
// cancels a query while Loki and Kafka are stalled, and checks that Run
// returns promptly, Loki sees its request cancelled, and no goroutine of
// the query outlives it (goleak).
func TestCancelStopsUpstreamWorkInProcess(t *testing.T) {
	s := newStalledUpstreams(t)
	raw, err := json.Marshal(s.jsonData())
	require.NoError(t, err)
	cfg, err := models.LoadSettings(raw, nil)
	require.NoError(t, err)

	before := goleak.IgnoreCurrent()
	e, err := engine.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type ran struct {
		out *engine.Outcome
		err error
	}
	done := make(chan ran, 1)
	go func() {
		out, err := e.Run(ctx, engine.Request{TraceID: traceID, From: panelFrom, To: panelTo})
		done <- ran{out, err}
	}()
	s.waitInFlight(t)
	cancel()
	cancelledAt := time.Now()
	var r ran
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of the cancellation")
	}
	t.Logf("Run returned %s after cancel: err=%v", time.Since(cancelledAt).Round(time.Millisecond), r.err)
	if r.out != nil {
		for _, st := range r.out.Statuses {
			t.Logf("  %s: records=%d err=%v", st.Source, st.Records, st.Err)
			// Loki and the audit topic were stalled: only the cancellation ended them.
			if st.Source == "loki" || st.Source == "kafka:"+topicAudit {
				assert.ErrorIs(t, st.Err, context.Canceled, st.Source)
			}
		}
	}
	require.Eventually(t, func() bool { return s.loki.cancelled.Load() == 1 }, 5*time.Second, 10*time.Millisecond,
		"Loki's handler must see its request context cancelled")

	e.Close()
	// The upstreams' server-side connections are test infrastructure; close
	// them so only goroutines the engine started could remain.
	s.tempo.CloseClientConnections()
	s.loki.CloseClientConnections()
	goleak.VerifyNone(t, before,
		// kfake serves each connection on its own goroutines until the client's close reaches it.
		goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*Cluster).run"),
		goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*clientConn).read"),
		goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*clientConn).write"),
	)
}

// TestEngineCloseReleasesHTTPConnections checks Close (what Dispose calls
// when Grafana replaces a datasource instance) also closes Tempo's and
// Loki's idle connections, so every settings change does not leave two
// goroutines and a socket per upstream behind for the idle timeout.
func TestEngineCloseReleasesHTTPConnections(t *testing.T) {
	tempo := newTempo(t, faultNone, tempoAuth{})
	loki := newLoki(t, faultNone, tempoAuth{})
	raw, err := json.Marshal(map[string]any{"tempo": map[string]any{"url": tempo.URL}, "loki": map[string]any{"url": loki.URL}})
	require.NoError(t, err)
	cfg, err := models.LoadSettings(raw, nil)
	require.NoError(t, err)
	before := goleak.IgnoreCurrent()
	e, err := engine.New(cfg)
	require.NoError(t, err)
	_, err = e.Run(ctxT(t, 20*time.Second), engine.Request{TraceID: traceID, From: panelFrom, To: panelTo})
	require.NoError(t, err)
	e.Close()
	err = goleak.Find(before, goleak.IgnoreAnyFunction("net/http.(*conn).serve"))
	if err != nil && strings.Contains(err.Error(), "net/http.(*persistConn)") {
		t.Fatalf("Engine.Close left %d goroutines in net/http.(*persistConn) read/write loops: the Tempo and Loki "+
			"clients' idle connections must be closed with the instance, not at the transport's idle timeout:\n%v",
			strings.Count(err.Error(), "on top of the stack:\nnet/http.(*persistConn)"), err)
	}
	require.NoError(t, err)
}

// TestCancelThroughBinary cancels the gRPC call while the upstreams stall
// and checks the plugin stops: the call returns Canceled promptly, Loki's
// handler sees its request context cancelled, and the instance keeps
// answering. The trace query and the search (its logs' batch in flight)
// alike.
func TestCancelThroughBinary(t *testing.T) {
	p := harness.Start(t)
	for _, kind := range queryKinds {
		t.Run(kind.name, func(t *testing.T) {
			s := newStalledUpstreams(t)
			ds := settings(s.jsonData(), nil)
			ctx, cancel := context.WithCancel(ctxT(t, 60*time.Second))
			errc := make(chan error, 1)
			go func() {
				_, err := p.QueryData(ctx, ds, kind.build("A", map[string]any{}))
				errc <- err
			}()
			s.waitInFlight(t)
			cancel()
			cancelledAt := time.Now()
			select {
			case err := <-errc:
				require.Error(t, err)
				assert.Equal(t, codes.Canceled, status.Code(err), "%v", err)
			case <-time.After(5 * time.Second):
				t.Fatal("QueryData did not return within 5s of the cancellation")
			}
			require.Eventually(t, func() bool { return s.loki.cancelled.Load() == 1 }, 5*time.Second, 10*time.Millisecond,
				"the plugin must cancel its Loki request when Grafana cancels the query")
			t.Logf("Loki saw the cancellation %s after the gRPC cancel", time.Since(cancelledAt).Round(time.Millisecond))

			// The instance is not stuck: a query of Tempo alone still answers.
			resp, err := p.QueryData(ctxT(t, 20*time.Second), ds, kind.build("B", map[string]any{"sources": []string{"tempo"}}))
			require.NoError(t, err)
			r := resultOf(t, resp, "B")
			require.NoError(t, r.err)
			assert.Equal(t, 8, r.spans)
		})
	}
}

// genTrace is a generated trace: its ID and when its root span starts.
type genTrace struct {
	id    string
	start time.Time
}

func genTraces(n int) []genTrace {
	out := make([]genTrace, n)
	for i := range out {
		out[i] = genTrace{
			id:    fmt.Sprintf("%08x%024x", 0xc0ffee00+i, uint64(i)*0x9e3779b97f4a7c15),
			start: time.Unix(fixtureTSS, 0).Add(time.Duration(i) * time.Second),
		}
	}
	return out
}

// spanIDOf derives span k of a generated trace.
func spanIDOf(traceHex string, k int) string { return traceHex[:10] + fmt.Sprintf("%06x", k+1) }

// tempoV2 wraps OTLP TracesData as Tempo's v2 TraceByIDResponse (field 1).
func tempoV2(t testing.TB, td ptrace.Traces) []byte {
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	out := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendBytes(out, b)
}

// genTraceData builds a trace of n spans (a root and children) whose
// operation names carry the trace ID, so a mix-up between queries shows.
func genTraceData(t testing.TB, g genTrace, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	var tid pcommon.TraceID
	mustHex(t, tid[:], g.id)
	services := []string{"go-proxy", "go-api", "rails-api", "mysql", "redis"}
	var sss []ptrace.SpanSlice
	for _, svc := range services {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		sss = append(sss, rs.ScopeSpans().AppendEmpty().Spans())
	}
	var root pcommon.SpanID
	for k := 0; k < n; k++ {
		sp := sss[k%len(services)].AppendEmpty()
		var sid pcommon.SpanID
		binary := make([]byte, 8)
		mustHex(t, binary, spanIDOf(g.id, k))
		copy(sid[:], binary)
		sp.SetTraceID(tid)
		sp.SetSpanID(sid)
		if k == 0 {
			root = sid
		} else {
			sp.SetParentSpanID(root)
		}
		sp.SetName(fmt.Sprintf("op %d of %s", k, g.id))
		sp.SetKind(ptrace.SpanKindServer)
		st := g.start.Add(time.Duration(k) * time.Microsecond)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(st))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(st.Add(time.Millisecond)))
	}
	return td
}

var traceFilterRE = regexp.MustCompile(`trace_id="([0-9a-f]{32})"`)

// lokiStreams renders a categorize-labels query_range answer.
func lokiStreams(lines [][3]string) []byte {
	type entry = [3]any
	values := make([]entry, len(lines))
	for i, l := range lines {
		values[i] = entry{l[0], l[1], map[string]any{"structuredMetadata": map[string]string{"trace_id": l[2][:32], "span_id": l[2][32:]}}}
	}
	b, _ := json.Marshal(map[string]any{"status": "success", "data": map[string]any{
		"resultType": "streams", "encodingFlags": []string{"categorize-labels"},
		"result": []any{map[string]any{"stream": map[string]string{"service_name": "go-api"}, "values": values}},
	}})
	return b
}

// TestConcurrentQueriesAreIndependent sends 50 queries for 50 different
// traces at once to one plugin instance and checks each answer holds its
// own trace's spans and lines, and nothing of another's.
func TestConcurrentQueriesAreIndependent(t *testing.T) {
	const n, spansPer = 50, 3
	traces := genTraces(n)
	byID := map[string]genTrace{}
	for _, g := range traces {
		byID[g.id] = g
	}
	tempo := newUpstream(t, func(u *upstream, w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/api/v2/traces/")
		g, ok := byID[id]
		if !ok {
			t.Errorf("tempo: unexpected %s", r.URL.Path)
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/protobuf")
		_, _ = w.Write(tempoV2(t, genTraceData(t, g, spansPer)))
	})
	loki := newUpstream(t, func(u *upstream, w http.ResponseWriter, r *http.Request) {
		m := traceFilterRE.FindStringSubmatch(r.URL.Query().Get("query"))
		if m == nil || byID[m[1]].id == "" {
			t.Errorf("loki: unexpected query %q", r.URL.Query().Get("query"))
			http.NotFound(w, r)
			return
		}
		g := byID[m[1]]
		ts := func(d time.Duration) string { return strconv.FormatInt(g.start.Add(d).UnixNano(), 10) }
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(lokiStreams([][3]string{
			{ts(100 * time.Microsecond), "loki line 1 of " + g.id, g.id + spanIDOf(g.id, 1)},
			{ts(200 * time.Microsecond), "loki line 2 of " + g.id, g.id + spanIDOf(g.id, 2)},
		}))
	})
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(8, topicOTLP))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(fnv32a))))
	require.NoError(t, err)
	var recs []*kgo.Record
	for _, g := range traces {
		recs = append(recs, &kgo.Record{Topic: topicOTLP, Key: []byte(g.id), Timestamp: g.start.Add(time.Second),
			Value: otlpLogLine(t, g.id, spanIDOf(g.id, 0), "kafka line of "+g.id, g.start.Add(300*time.Microsecond))})
	}
	require.NoError(t, prod.ProduceSync(ctxT(t, 30*time.Second), recs...).FirstErr())
	prod.Close()

	p := harness.Start(t)
	ds := settings(map[string]any{
		"tempo": map[string]any{"url": tempo.URL},
		"loki":  map[string]any{"url": loki.URL},
		"kafka": map[string]any{"brokers": c.ListenAddrs(), "topics": kafkaTopics()[:1]},
	}, nil)
	ctx := ctxT(t, 120*time.Second)
	var wg sync.WaitGroup
	results := make([]result, n)
	errs := make([]error, n)
	start := time.Now()
	for i, g := range traces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := p.QueryData(ctx, ds, query("A", map[string]any{"traceId": g.id}))
			if errs[i] = err; err == nil {
				results[i] = resultOf(t, resp, "A")
			}
		}()
	}
	wg.Wait()
	t.Logf("%d concurrent queries answered in %s", n, time.Since(start).Round(time.Millisecond))
	for i, g := range traces {
		require.NoError(t, errs[i], g.id)
		r := results[i]
		require.NoError(t, r.err, g.id)
		assert.Equal(t, spansPer, r.spans, g.id)
		assert.Equal(t, map[string]int{"loki": 2, "kafka:otlp_logs": 1}, r.logs, g.id)
		for _, f := range r.frames {
			for _, fl := range f.Fields {
				if fl.Name != "traceID" && fl.Name != "traceId" && fl.Name != "operationName" && fl.Name != "body" {
					continue
				}
				for row := 0; row < fl.Len(); row++ {
					v, _ := fl.ConcreteAt(row)
					s, _ := v.(string)
					assert.Contains(t, s, g.id, "frame %s field %s row %d belongs to another trace", f.Name, fl.Name, row)
				}
			}
		}
	}
	assert.EqualValues(t, n, tempo.requests.Load(), "one Tempo request per query")
}
