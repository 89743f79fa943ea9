package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/internal/harness"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/plugin"
)

// memProfile is the memory one query cost in this process.
type memProfile struct {
	peakHeap   uint64 // peak live heap above the baseline, sampled every 5ms
	totalAlloc uint64 // bytes allocated during the query
	mallocs    uint64
	afterHeap  uint64 // live heap above the baseline after the query and a GC
}

func (m memProfile) String() string {
	return fmt.Sprintf("peak heap +%.1f MiB, allocated %.1f MiB in %d allocations, retained after GC +%.1f MiB",
		mib(m.peakHeap), mib(m.totalAlloc), m.mallocs, mib(m.afterHeap))
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// measure runs fn and samples runtime.ReadMemStats around and during it.
// release drops what fn produced before the retained heap is measured.
func measure(fn func(), release func()) memProfile {
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peak.Load() {
					peak.Store(ms.HeapAlloc)
				}
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if after.HeapAlloc > peak.Load() {
		peak.Store(after.HeapAlloc)
	}
	m := memProfile{totalAlloc: after.TotalAlloc - base.TotalAlloc, mallocs: after.Mallocs - base.Mallocs}
	if p := peak.Load(); p > base.HeapAlloc {
		m.peakHeap = p - base.HeapAlloc
	}
	release()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if after.HeapAlloc > base.HeapAlloc {
		m.afterHeap = after.HeapAlloc - base.HeapAlloc
	}
	return m
}

// inProcess runs one query through the plugin's own QueryData handler in
// this process (so memory can be measured), as Grafana would call it.
func inProcess(t *testing.T, jsonData map[string]any, q backend.DataQuery) (result, memProfile) {
	raw, err := json.Marshal(jsonData)
	require.NoError(t, err)
	inst, err := plugin.NewDatasource(context.Background(), backend.DataSourceInstanceSettings{UID: "tw-limits", Name: "Traceweave", JSONData: raw})
	require.NoError(t, err)
	ds := inst.(*plugin.Datasource)
	defer ds.Dispose()
	var r result
	start := time.Now()
	m := measure(func() {
		resp, err := ds.QueryData(ctxT(t, 120*time.Second), &backend.QueryDataRequest{
			PluginContext: backend.PluginContext{DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: "tw-limits", JSONData: raw}},
			Queries:       []backend.DataQuery{q},
		})
		require.NoError(t, err)
		t.Logf("in-process QueryData took %s", time.Since(start).Round(time.Millisecond))
		r = resultOf(t, resp, q.RefID)
	}, func() { r.frames = nil })
	return r, m
}

// hugeTrace serves a 100k-span trace as Tempo v2 protobuf.
func hugeTrace(t *testing.T, spans int) (*upstream, genTrace, int) {
	g := genTrace{id: traceID, start: time.Unix(fixtureTSS, 0)}
	body := tempoV2(t, genTraceData(t, g, spans))
	u := newUpstream(t, func(u *upstream, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/protobuf")
		_, _ = w.Write(body)
	})
	return u, g, len(body)
}

const hugeSpans = 100_000

// TestHugeTraceMemoryBounded decodes, merges and frames a 100k-span trace
// in this process and reports what it cost; the bound is generous (the
// point is "bounded", not a benchmark) and catches a quadratic blow-up.
func TestHugeTraceMemoryBounded(t *testing.T) {
	u, g, size := hugeTrace(t, hugeSpans)
	r, m := inProcess(t, map[string]any{"tempo": map[string]any{"url": u.URL}}, query("A", map[string]any{"traceId": g.id}))
	require.NoError(t, r.err)
	t.Logf("100k-span trace: Tempo body %.1f MiB, %d spans returned, %s", mib(uint64(size)), r.spans, m)
	assert.Less(t, m.peakHeap, uint64(2<<30), "peak heap of one 100k-span query")
	assert.Less(t, m.afterHeap, uint64(64<<20), "memory retained after the query")
}

// TestHugeTraceIsCappedWithNotice asks the built plugin for a 100k-span
// trace and expects it capped at tempo.maxSpans (default
// models.DefaultTempoMaxSpans), with a notice saying so: a panel cannot
// render 100k spans and the answer must fit Grafana's gRPC message limit.
// A smaller configured cap is honoured too.
func TestHugeTraceIsCappedWithNotice(t *testing.T) {
	u, g, _ := hugeTrace(t, hugeSpans)
	p := harness.Start(t)
	for _, c := range []struct {
		name  string
		tempo map[string]any
		limit int
	}{
		{"default tempo.maxSpans", map[string]any{"url": u.URL}, models.DefaultTempoMaxSpans},
		{"tempo.maxSpans 2500", map[string]any{"url": u.URL, "maxSpans": 2500}, 2500},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := p.QueryData(ctxT(t, 120*time.Second), settings(map[string]any{"tempo": c.tempo}, nil),
				query("A", map[string]any{"traceId": g.id}))
			require.NoError(t, err, "a huge trace must not fail the panel-wide gRPC call")
			r := resultOf(t, resp, "A")
			require.NoError(t, r.err)
			assert.Equal(t, c.limit, r.spans, "spans returned for a %d-span trace", hugeSpans)
			assert.Contains(t, strings.Join(r.notices, " / "),
				fmt.Sprintf("trace capped at %d of %d spans (tempo.maxSpans)", c.limit, hugeSpans))
		})
	}
}

// lokiFirehose is a Loki that has a million lines for the trace: it answers
// every page with `limit` lines after `start` and counts what it served.
func lokiFirehose(t *testing.T, total int) (*upstream, *atomic.Int64) {
	var served atomic.Int64
	u := newUpstream(t, func(u *upstream, w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		start, _ := strconv.ParseInt(q.Get("start"), 10, 64)
		end, _ := strconv.ParseInt(q.Get("end"), 10, 64)
		limit, _ := strconv.Atoi(q.Get("limit"))
		if q.Get("direction") != "forward" || limit <= 0 || end <= start {
			t.Errorf("loki: unexpected page %s", r.URL.RawQuery)
		}
		base := time.Unix(fixtureTSS, 0).UnixNano()
		lines := make([][3]string, 0, limit)
		for ts := max(start, base); ts < end && len(lines) < limit && ts-base < int64(total); ts++ {
			lines = append(lines, [3]string{strconv.FormatInt(ts, 10), "line " + strconv.FormatInt(ts-base, 10) + " of the firehose", traceID + spanGoAPI})
		}
		served.Add(int64(len(lines)))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(lokiStreams(lines))
	})
	return u, &served
}

// TestLokiBeyondMaxTotalLines: Loki holds 1M lines of the trace; the plugin
// stops at loki.maxTotalLines (default 50 000), says so in a notice, and
// its memory stays bounded (measured in this process; the notice is also
// checked through the binary).
func TestLokiBeyondMaxTotalLines(t *testing.T) {
	const million = 1_000_000
	tempo := newTempo(t, faultNone, tempoAuth{})
	loki, served := lokiFirehose(t, million)
	js := map[string]any{"tempo": map[string]any{"url": tempo.URL}, "loki": map[string]any{"url": loki.URL}}

	r, m := inProcess(t, js, query("A", map[string]any{}))
	require.NoError(t, r.err)
	t.Logf("1M-line Loki result, default maxTotalLines: %d lines returned, %d served by Loki in %d requests; %s",
		r.logs["loki"], served.Load(), loki.requests.Load(), m)
	assert.Equal(t, 50_000, r.logs["loki"])
	assert.Contains(t, strings.Join(r.notices, " / "), "Loki: result truncated at 50000 lines (loki.maxTotalLines)")
	assert.Less(t, served.Load(), int64(60_000), "the plugin must stop asking once it has maxTotalLines")
	assert.Less(t, m.peakHeap, uint64(1<<30))
	assert.Less(t, m.afterHeap, uint64(64<<20))

	p := harness.Start(t)
	js["loki"] = map[string]any{"url": loki.URL, "maxTotalLines": 2000, "maxLines": 500}
	resp, err := p.QueryData(ctxT(t, 60*time.Second), settings(js, nil), query("A", map[string]any{}))
	require.NoError(t, err)
	rb := resultOf(t, resp, "A")
	require.NoError(t, rb.err)
	assert.Equal(t, 2000, rb.logs["loki"])
	assert.Equal(t, 8, rb.spans)
	assert.Contains(t, strings.Join(rb.notices, " / "), "Loki: result truncated at 2000 lines (loki.maxTotalLines)")
}

// TestTempoResponseSizeLimit: a Tempo answer larger than the response
// limit is refused with an error naming Tempo and the limit, not read into
// memory. The plugin's limit is upstream.MaxResponseBytes (512 MiB,
// not configurable in jsonData); the SDK lets Grafana's
// GF_DATAPROXY_RESPONSE_LIMIT override it, which this test uses to check
// the limit with 1 MiB instead of serving 512 MiB.
func TestTempoResponseSizeLimit(t *testing.T) {
	t.Setenv("GF_DATAPROXY_RESPONSE_LIMIT", strconv.Itoa(1<<20))
	u, g, size := hugeTrace(t, 20_000)
	require.Greater(t, size, 1<<20)
	loki := newLoki(t, faultNone, tempoAuth{})
	p := harness.Start(t) // inherits the environment, as the plugin inherits Grafana's
	resp, err := p.QueryData(ctxT(t, 60*time.Second), settings(map[string]any{
		"tempo": map[string]any{"url": u.URL}, "loki": map[string]any{"url": loki.URL},
	}, nil), query("A", map[string]any{"traceId": g.id}))
	require.NoError(t, err)
	r := resultOf(t, resp, "A")
	require.NoError(t, r.err, "Loki still answers: a partial result")
	text := strings.Join(r.notices, " / ")
	t.Logf("%.1f MiB Tempo answer with a 1 MiB limit: %s", mib(uint64(size)), stable(text))
	assert.Regexp(t, `Tempo.*response body too large`, text)
	assert.Zero(t, r.spans)
}
