package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/traceweave/traceweave/internal/harness"
	"github.com/traceweave/traceweave/internal/kafkatest"
)

// searchTrace is one trace of the search scenario: the scenario request,
// shifted in time, with or without its Redis failure.
type searchTrace struct {
	id string
	// shift moves every span and line of the scenario.
	shift time.Duration
	// healthy traces have no failing span and no error line.
	healthy bool
	// tempoFails makes Tempo's trace-by-ID answer 500 for this trace.
	tempoFails bool
}

// searchTraces are what the search finds: two traces close together (one
// upstream pass for both), two twenty minutes later (another pass), one
// forty minutes later whose by-ID fetch fails. The fourth ID has leading
// zeros, which Tempo's search answer omits.
var searchTraces = []searchTrace{
	{id: "5a1e0000000000000000000000000001", shift: 0},
	{id: "5a1e0000000000000000000000000002", shift: 2 * time.Second, healthy: true},
	{id: "5a1e0000000000000000000000000003", shift: 20 * time.Minute},
	{id: "00000a1e000000000000000000000004", shift: 20*time.Minute + 500*time.Millisecond, healthy: true},
	{id: "5a1e0000000000000000000000000005", shift: 40 * time.Minute, tempoFails: true},
}

// hostileID is a "trace ID" a broken or hostile Tempo returns: were it put
// into LogQL it would widen the filter to every line.
const hostileID = `abc") or x=~".+`

func (st searchTrace) spans() []spanSpec {
	out := slices.Clone(scenarioSpans)
	if st.healthy {
		for i := range out {
			out[i].status, out[i].statusMsg, out[i].events = ptrace.StatusCodeUnset, "", nil
		}
	}
	return out
}

// extraLogs are n more info lines of the trace's Go API, spread over its
// first 250 ms.
func (st searchTrace) extraLogs(n int) []logSpec {
	out := make([]logSpec, n)
	for i := range out {
		out[i] = logSpec{ms: float64(st.shift)/float64(time.Millisecond) + 250*float64(i)/float64(n), service: "go-api", spanID: spAPI,
			sevText: "INFO", sevNum: 9, severity: "info", user: "u-1042", action: "order.view",
			body: fmt.Sprintf("step %d of the request for user u-1042", i)}
	}
	return out
}

func (st searchTrace) logs(where int) []logSpec {
	var out []logSpec
	for _, l := range logsWhere(where) {
		if st.healthy && l.sevText == "ERROR" {
			continue
		}
		l.ms += float64(st.shift) / float64(time.Millisecond)
		out = append(out, l)
	}
	return out
}

// traceData builds the trace as Tempo returns it.
func (st searchTrace) traceData() ptrace.Traces {
	td := buildTrace(st.id)
	shift := pcommon.Timestamp(st.shift)
	healthy := map[string]bool{}
	if st.healthy {
		for _, s := range st.spans() {
			healthy[s.id] = true
		}
	}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			sps := sss.At(j).Spans()
			for k := 0; k < sps.Len(); k++ {
				sp := sps.At(k)
				sp.SetStartTimestamp(sp.StartTimestamp() + shift)
				sp.SetEndTimestamp(sp.EndTimestamp() + shift)
				if healthy[sp.SpanID().String()] {
					sp.Status().SetCode(ptrace.StatusCodeUnset)
					sp.Status().SetMessage("")
					sp.Events().RemoveIf(func(ptrace.SpanEvent) bool { return true })
				}
				evs := sp.Events()
				for e := 0; e < evs.Len(); e++ {
					evs.At(e).SetTimestamp(evs.At(e).Timestamp() + shift)
				}
			}
		}
	}
	return td
}

// searchTempo answers Tempo's search with searchTraces (plus hostileID) and
// trace-by-ID for each, checking what it is asked.
type searchTempo struct {
	t      testing.TB
	traces []searchTrace
	bodies map[string][]byte

	mu       sync.Mutex
	searches []string
	byID     []string
}

func newSearchTempo(t testing.TB, traces []searchTrace) *searchTempo {
	st := &searchTempo{t: t, traces: traces, bodies: map[string][]byte{}}
	for _, tr := range traces {
		st.bodies[tr.id] = tempoV2Body(t, tr.traceData(), 0, "")
	}
	return st
}

func (f *searchTempo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if got := r.Header.Get("X-Scope-OrgID"); got != tenant {
		f.t.Errorf("tempo: %s: X-Scope-OrgID = %q, want %q", r.URL.Path, got, tenant)
	}
	if r.URL.Path == "/api/search" {
		q := r.URL.Query()
		f.mu.Lock()
		f.searches = append(f.searches, q.Get("q"))
		f.mu.Unlock()
		for _, k := range []string{"start", "end", "limit"} {
			if _, err := strconv.ParseInt(q.Get(k), 10, 64); err != nil {
				f.t.Errorf("tempo search: %s = %q", k, q.Get(k))
			}
		}
		if strings.Contains(q.Get("q"), "syntax error") {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte("invalid TraceQL query: parse error at line 1, col 3: syntax error: unexpected IDENTIFIER\n"))
			return
		}
		type stat struct {
			SpanCount  int `json:"spanCount"`
			ErrorCount int `json:"errorCount,omitempty"`
		}
		var traces []map[string]any
		for _, tr := range f.traces {
			stats := map[string]stat{}
			for _, s := range tr.spans() {
				c := stats[s.service]
				c.SpanCount++
				if s.status == ptrace.StatusCodeError {
					c.ErrorCount++
				}
				stats[s.service] = c
			}
			traces = append(traces, map[string]any{
				// Tempo writes IDs without their leading zeros.
				"traceID":           strings.TrimLeft(tr.id, "0"),
				"rootServiceName":   "go-proxy",
				"rootTraceName":     "GET /api/orders/{id}",
				"startTimeUnixNano": strconv.FormatInt(t0.Add(tr.shift).UnixNano(), 10),
				"durationMs":        250,
				"serviceStats":      stats,
			})
		}
		traces = append(traces, map[string]any{"traceID": hostileID, "rootServiceName": "x", "startTimeUnixNano": "1", "durationMs": 1})
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"traces": traces, "metrics": map[string]any{"inspectedBytes": "20850", "completedJobs": 3, "totalJobs": 3}})
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/api/v2/traces/")
	if !ok {
		f.t.Errorf("tempo: unexpected path %s", r.URL.Path)
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.byID = append(f.byID, id)
	f.mu.Unlock()
	body, known := f.bodies[id]
	for _, tr := range f.traces {
		if tr.id == id && tr.tempoFails {
			known = false
		}
	}
	if !known {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("rpc error: code = Unavailable desc = no healthy querier\n"))
		return
	}
	w.Header().Set("Content-Type", "application/protobuf")
	_, _ = w.Write(body)
}

// searchScenario is the upstreams of the search tests.
type searchScenario struct {
	tempo   *searchTempo
	loki    *fakeLoki
	kafka   *kfake.Cluster
	fetches *kafkatest.FetchLog
	ds      harness.Settings
}

// newSearchScenario starts Tempo, Loki and Kafka holding traces; extra adds
// that many more lines per trace to Loki and to the audit topic, spread
// over the trace's first 250 ms (the benchmark's 1k-line traces).
func newSearchScenario(t testing.TB, traces []searchTrace, extra int) *searchScenario {
	t.Helper()
	st := newSearchTempo(t, traces)
	tempoSrv := httptest.NewServer(st)
	t.Cleanup(tempoSrv.Close)
	var lines []lokiLine
	lines = append(lines, lokiNoise()...)
	for _, tr := range traces {
		for _, l := range tr.logs(inLoki) {
			lines = append(lines, lokiLineOf(tr.id, l))
		}
		for _, l := range tr.extraLogs(extra) {
			lines = append(lines, lokiLineOf(tr.id, l))
		}
	}
	fl := &fakeLoki{t: t, lines: lines, stats: recordedLokiStats(t)}
	lokiSrv := httptest.NewServer(fl)
	t.Cleanup(lokiSrv.Close)

	c, otlp := newScenarioCluster(t)
	audit, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	t.Cleanup(audit.Close)
	for _, tr := range traces {
		at := t0.Add(tr.shift)
		var recs []*kgo.Record
		for _, l := range tr.extraLogs(extra) {
			recs = append(recs, &kgo.Record{Topic: topicAudit, Value: auditLine(t, tr.id, l), Timestamp: at.Add(800 * time.Millisecond)})
		}
		if len(recs) > 0 {
			produce(t, audit, recs...)
		}
		produce(t, otlp, &kgo.Record{Topic: topicOTLP, Key: []byte(tr.id), Value: otlpMessage(t, tr.id, tr.logs(inOTLP)), Timestamp: at.Add(time.Second)})
		for _, l := range tr.logs(inAudit) {
			produce(t, audit, &kgo.Record{Topic: topicAudit, Value: auditLine(t, tr.id, l), Timestamp: at.Add(800 * time.Millisecond)})
		}
		// Another trace's lines at the same moments, in both topics.
		other := noiseTraces(1)[0]
		produce(t, otlp, &kgo.Record{Topic: topicOTLP, Key: []byte(other), Value: otlpMessage(t, other, tr.logs(inOTLP)), Timestamp: at.Add(time.Second)})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fo, err := kafkatest.NewFetchLog(ctx, c, topicOTLP, topicAudit)
	require.NoError(t, err)
	return &searchScenario{tempo: st, loki: fl, kafka: c, fetches: fo, ds: harness.Settings{
		UID: dsUID, Name: dsName,
		JSONData: map[string]any{
			"tempo": map[string]any{"url": tempoSrv.URL, "tenant": tenant, "datasourceUid": tempoDSUID},
			"loki":  map[string]any{"url": lokiSrv.URL, "tenant": tenant, "selector": selector},
			"kafka": map[string]any{"brokers": c.ListenAddrs(), "topics": []map[string]any{
				{"name": topicOTLP, "encoding": "otlp_proto", "keyedByTraceId": true, "hasher": "sarama_compat"},
				{"name": topicAudit, "encoding": "json"},
			}},
		},
	}}
}

// keyedPartitions are the otlp_logs partitions of the search's traces.
func keyedPartitions() []int32 {
	var out []int32
	for _, tr := range searchTraces {
		out = append(out, saramaPartition(tr.id, otlpPartitions))
	}
	return out
}

// searchRange is the panel's range: the last hour around the traces.
func searchRange() (time.Time, time.Time) { return t0.Add(-5 * time.Minute), t0.Add(45 * time.Minute) }

// runSearch starts the search scenario and the plugin and runs one search.
func runSearch(t *testing.T, traceql string) (*searchScenario, *harness.Plugin, backend.DataResponse) {
	s := newSearchScenario(t, searchTraces, 0)
	p := harness.Start(t)
	from, to := searchRange()
	return s, p, runQuery(t, p, s.ds, map[string]any{"queryType": "search", "traceql": traceql}, from, to)
}

// rowOf returns the search frame's row of a trace as field name → value.
func rowOf(t *testing.T, f *data.Frame, traceID string) map[string]any {
	t.Helper()
	ids := col[string](t, f, "traceId")
	i := slices.Index(ids, traceID)
	require.GreaterOrEqual(t, i, 0, "no row for %s in %v", traceID, ids)
	out := map[string]any{}
	for _, fl := range f.Fields {
		out[fl.Name] = fl.At(i)
	}
	return out
}

// TestSearchRowsMatchTraceQueries runs a search through the built binary
// and checks each row against the trace query of that trace on the same
// upstreams: the same spans, errors, tiers, lines per source, first error
// and slowest tier. It counts what the upstreams were asked: Loki once per
// group of close windows (three groups for five traces), Kafka serving no
// offset of a partition twice, and only the keyed topic's partitions
// of the found traces.
func TestSearchRowsMatchTraceQueries(t *testing.T) {
	s, p, r := runSearch(t, "{ status = error }")
	from, to := searchRange()
	require.NoError(t, r.Error)
	require.Len(t, r.Frames, 1)
	f := r.Frames[0]
	assert.Equal(t, "search", f.Name)
	lokiCalls := len(s.loki.requests())
	rereads, fetched := s.fetches.Rereads(), s.fetches.Fetched()
	s.fetches.Reset()

	// Hostile and zero-stripped IDs: the row IDs are the padded hex ones,
	// and no LogQL carried anything but hex IDs.
	ids := col[string](t, f, "traceId")
	want := make([]string, len(searchTraces))
	for i, tr := range searchTraces {
		want[i] = tr.id
	}
	assert.Equal(t, want, ids)
	assert.True(t, hasNotice(f, "not hex trace IDs", "skipped"), "notices: %v", noticeTexts(f))
	assert.True(t, hasNotice(f, searchTraces[4].id, "Tempo failed"), "notices: %v", noticeTexts(f))
	for _, req := range s.loki.requests() {
		assert.NotContains(t, req.query, "abc")
		assert.NotContains(t, req.query, `x=~`)
	}

	// Loki: one request per group of windows, not one per trace.
	assert.LessOrEqual(t, lokiCalls, 3, "Loki requests for %d traces in 3 groups", len(searchTraces))

	// Kafka: no offset of a partition is served twice, and the keyed
	// topic is read only on the found traces' partitions.
	assert.Empty(t, rereads, "Kafka offsets served more than once")
	require.NotEmpty(t, fetched)
	for _, f := range fetched {
		if f.Topic == topicOTLP {
			assert.Contains(t, keyedPartitions(), f.Partition, "keyed topic partition %d holds none of the found traces", f.Partition)
		}
	}

	// Each row is what the trace query of its trace says.
	for _, tr := range searchTraces {
		row := rowOf(t, f, tr.id)
		tq := runQuery(t, p, s.ds, map[string]any{"queryType": "timeline", "traceId": tr.id,
			"frames": []string{"logs", "timeline", "summary"}}, from, to)
		if tr.tempoFails {
			// Its row keeps the search answer's figures.
			assert.Equal(t, int64(len(scenarioSpans)), row["spans"])
			assert.Equal(t, int64(1), row["errorSpans"])
			assert.Positive(t, row["logs"])
			continue
		}
		require.NoError(t, tq.Error)
		logs, tl, sum := frameByName(t, tq.Frames, "logs"), frameByName(t, tq.Frames, "timeline"), frameByName(t, tq.Frames, "summary")
		assert.Equal(t, int64(len(scenarioSpans)), row["spans"], tr.id)
		var errSpans int64
		kinds, sevs := col[string](t, tl, "kind"), col[string](t, tl, "severity")
		for i := range kinds {
			if kinds[i] == "span" && sevs[i] == "error" {
				errSpans++
			}
		}
		assert.Equal(t, errSpans, row["errorSpans"], tr.id)
		assert.Equal(t, int64(logs.Rows()), row["logs"], tr.id)
		for _, src := range []string{"loki", "kafka:" + topicOTLP, "kafka:" + topicAudit} {
			var n int64
			for _, cell := range col[string](t, logs, "source") {
				if slices.Contains(strings.Split(cell, ","), src) {
					n++
				}
			}
			assert.Equal(t, n, row[src], "%s %s", tr.id, src)
			assert.Positive(t, n, "%s has lines in %s", tr.id, src)
		}
		tiers, spans, self := col[string](t, sum, "tier"), col[int64](t, sum, "spans"), col[float64](t, sum, "selfTime")
		var touched []string
		slowest, best := "", -1.0
		for i := range tiers {
			if spans[i] > 0 {
				touched = append(touched, tiers[i])
				if self[i] > best {
					slowest, best = tiers[i], self[i]
				}
			}
		}
		assert.Equal(t, strings.Join(touched, ","), row["tiers"], tr.id)
		assert.Equal(t, slowest, row["slowestTier"], tr.id)
		assert.InDelta(t, best, row["slowestTierSelfTime"], 1e-6, tr.id)
		firstErr := col[bool](t, tl, "firstError")
		i := slices.Index(firstErr, true)
		if tr.healthy {
			assert.Equal(t, -1, i, "%s has no error", tr.id)
			assert.Nil(t, row["firstErrorTime"], tr.id)
			continue
		}
		require.GreaterOrEqual(t, i, 0, tr.id)
		require.NotNil(t, row["firstErrorTime"], tr.id)
		// A log's error time is its own; a span's is the moment its failure
		// was known (its exception event, else its end), inside the span.
		errAt, start := row["firstErrorTime"].(*time.Time).UnixNano(), col[time.Time](t, tl, "time")[i].UnixNano()
		if kinds[i] == "log" {
			assert.Equal(t, start, errAt, tr.id)
		} else {
			dur := col[*float64](t, tl, "duration")[i]
			require.NotNil(t, dur)
			assert.GreaterOrEqual(t, errAt, start, tr.id)
			assert.LessOrEqual(t, errAt, start+int64(*dur*1e6), tr.id)
		}
		assert.Equal(t, col[string](t, tl, "tier")[i], row["firstErrorTier"], tr.id)
		assert.Contains(t, row["firstError"], col[string](t, tl, "name")[i], tr.id)
	}
}

// TestSearchBadTraceQL: Tempo's own error text, status 400, and no log
// source asked.
func TestSearchBadTraceQL(t *testing.T) {
	s, _, r := runSearch(t, "{ syntax error }")
	require.Error(t, r.Error)
	assert.EqualValues(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Error.Error(), "parse error at line 1, col 3")
	assert.Empty(t, s.loki.requests())
	assert.Empty(t, s.tempo.byID)
}

// TestSearchLokiDown: Loki failing gives a notice naming it, and every row
// with its Kafka lines.
func TestSearchLokiDown(t *testing.T) {
	s := newSearchScenario(t, searchTraces, 0)
	s.loki.failFor = searchTraces[0].id
	p := harness.Start(t)
	from, to := searchRange()
	r := runQuery(t, p, s.ds, map[string]any{"queryType": "search", "traceql": "{ status = error }"}, from, to)
	require.NoError(t, r.Error)
	f := r.Frames[0]
	assert.True(t, hasNotice(f, "Loki failed"), "notices: %v", noticeTexts(f))
	require.Equal(t, len(searchTraces), f.Rows())
	for _, n := range col[int64](t, f, "kafka:"+topicOTLP) {
		assert.Positive(t, n)
	}
}

// counts is what the search scenario's upstreams were asked so far: Tempo
// searches and traces by ID together, Loki requests, and the partitions
// Kafka's Fetch answers served.
func (s *searchScenario) counts() upstreamCounts {
	s.tempo.mu.Lock()
	tempo := int64(len(s.tempo.searches) + len(s.tempo.byID))
	s.tempo.mu.Unlock()
	return upstreamCounts{tempo, int64(len(s.loki.requests())), int64(len(s.fetches.Fetched()))}
}

func (c upstreamCounts) plus(o upstreamCounts) upstreamCounts {
	return upstreamCounts{c.tempo + o.tempo, c.loki + o.loki, c.kafkaFetches + o.kafkaFetches}
}

// TestWholeDashboardOpen opens every Traceweave panel of the provisioned
// dashboard at once through the built binary, the search panel with the
// panels of the trace (${traceId} one of the traces the search finds), on
// a fresh instance: the upstreams are asked exactly what one timeline query
// of the trace plus one search ask, each on a fresh instance of its own
// (the trace panels share one run, the search is one more, nothing is
// asked twice), and every panel gets the frame its single query gives.
func TestWholeDashboardOpen(t *testing.T) {
	s := newSearchScenario(t, searchTraces, 0)
	p := harness.Start(t)
	from, to := searchRange()
	trace := searchTraces[0].id
	instance := func(n int64) harness.Settings {
		ds := s.ds
		ds.Updated = time.Unix(n, 0) // a new Updated time is a new instance
		return ds
	}

	before := s.counts()
	one := runQuery(t, p, instance(100), map[string]any{"queryType": "timeline", "traceId": trace}, from, to)
	require.NoError(t, one.Error)
	oneQuery := s.counts().minus(before)
	before = s.counts()
	search := runQuery(t, p, instance(200), map[string]any{"queryType": "search", "traceql": "{ status = error }"}, from, to)
	require.NoError(t, search.Error)
	oneSearch := s.counts().minus(before)
	require.Equal(t, int64(1+len(searchTraces)), oneSearch.tempo, "one search and a fetch by ID per found trace")
	require.Positive(t, oneSearch.loki)
	require.Positive(t, oneSearch.kafkaFetches)

	panels := provisionedPanels(t, trace, from, to)
	before = s.counts()
	answers := p.OpenDashboard(ctxT(t), instance(300), panels)
	opened := s.counts().minus(before)
	assert.Equal(t, oneQuery.plus(oneSearch), opened, "opening the dashboard asks what one trace query and one search ask")

	sawSearch := false
	for _, a := range answers {
		f := panelFrame(t, a)
		single := one.Frames
		if f.Name == "search" {
			sawSearch, single = true, search.Frames
		} else {
			assert.Equal(t, framesOfPanels[a.Panel.Type], f.Name, "panel %q (%s)", a.Panel.Title, a.Panel.Type)
		}
		if f.Name == "firstError" {
			continue // a cut of the timeline frame, compared in TestDashboardOpenIsOneRun
		}
		assert.Equal(t, withoutNotices(t, frameByName(t, single, f.Name)), withoutNotices(t, f),
			"panel %q gets the frame its single query gives", a.Panel.Title)
	}
	assert.True(t, sawSearch, "the search panel answered with the search frame")
}
