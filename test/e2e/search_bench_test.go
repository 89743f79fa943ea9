package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/engine"
	"github.com/traceweave/traceweave/pkg/kafka"
	"github.com/traceweave/traceweave/pkg/loki"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/tempo"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// benchTraces are 20 error traces of the last quarter hour, 45 s apart.
func benchTraces() []searchTrace {
	out := make([]searchTrace, 20)
	for i := range out {
		out[i] = searchTrace{id: fmt.Sprintf("be%030x", i+1), shift: time.Duration(i) * 45 * time.Second}
	}
	return out
}

// BenchmarkSearch is a search finding 20 traces with 1k log lines each in
// Loki and 1k in Kafka, in process against the test upstreams. Per
// iteration it times, one after the other: the engine's search (wall), its
// parts alone — Tempo's search, Loki's batch over the traces' windows,
// Kafka's one pass — and the naive way, the search then a trace query per
// found trace. It reports wall ÷ (T_search + T_loki + T_kafka), the cost of
// joining and merging beyond the upstream calls (goal ≤ 1.3), and naive ÷
// wall.
func BenchmarkSearch(b *testing.B) {
	traces := benchTraces()
	s := newSearchScenario(b, traces, 1000)
	raw, err := json.Marshal(s.ds.JSONData)
	require.NoError(b, err)
	cfg, err := models.LoadSettings(raw, nil)
	require.NoError(b, err)
	eng, err := engine.New(cfg)
	require.NoError(b, err)
	b.Cleanup(eng.Close)
	tc, err := tempo.New(cfg.Tempo)
	require.NoError(b, err)
	b.Cleanup(tc.Close)
	lc, err := loki.New(cfg.Loki)
	require.NoError(b, err)
	b.Cleanup(lc.Close)
	kr, err := kafka.New(cfg.Kafka)
	require.NoError(b, err)
	b.Cleanup(kr.Close)
	from, to := t0.Add(-time.Minute), t0.Add(20*time.Minute)
	req := engine.SearchRequest{TraceQL: "{ status = error }", From: from, To: to}
	ctx := ctxT(b)

	// The groups the engine reads, for the parts timed alone.
	windows := make([]timeline.TraceWindow, len(traces))
	for i, tr := range traces {
		lo := t0.Add(tr.shift).Add(-time.Duration(cfg.Window.Before))
		hi := t0.Add(tr.shift).Add(251 * time.Millisecond).Add(time.Duration(cfg.Window.After))
		windows[i] = timeline.TraceWindow{TraceID: tr.id, StartNs: lo.UnixNano(), EndNs: hi.UnixNano()}
	}
	groups := timeline.GroupWindows(windows, 2*int64(cfg.Window.Before+cfg.Window.After))

	var wall, parts, naive time.Duration
	b.ResetTimer()
	for b.Loop() {
		t := time.Now()
		out, err := eng.Search(ctx, req)
		wall += time.Since(t)
		require.NoError(b, err)
		require.Len(b, out.Traces, len(traces))
		for _, ft := range out.Traces {
			require.GreaterOrEqual(b, len(ft.Model.Logs), 1000, ft.TraceID)
		}

		t = time.Now()
		_, err = tc.Search(ctx, tempo.SearchRequest{Query: req.TraceQL, Start: from, End: to, Limit: cfg.Search.Limit})
		require.NoError(b, err)
		_, err = lc.QueryTraces(ctx, groups)
		require.NoError(b, err)
		require.NoError(b, kr.ReadTraces(ctx, groups).Err())
		parts += time.Since(t)

		t = time.Now()
		found, err := tc.Search(ctx, tempo.SearchRequest{Query: req.TraceQL, Start: from, End: to, Limit: cfg.Search.Limit})
		require.NoError(b, err)
		for _, h := range found.Hits {
			_, err := eng.Run(ctx, engine.Request{TraceID: h.TraceID, From: from, To: to})
			require.NoError(b, err)
		}
		naive += time.Since(t)
	}
	n := float64(b.N)
	b.ReportMetric(float64(wall.Milliseconds())/n, "wall-ms")
	b.ReportMetric(float64(parts.Milliseconds())/n, "parts-ms")
	b.ReportMetric(float64(naive.Milliseconds())/n, "naive-ms")
	b.ReportMetric(float64(wall)/float64(parts), "wall/parts")
	b.ReportMetric(float64(naive)/float64(wall), "naive/wall")
}
