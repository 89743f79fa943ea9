// Package e2e drives the built gpx_traceweave binary over Grafana's plugin
// gRPC protocol (internal/harness) against in-process upstreams: httptest
// servers replaying recorded Tempo and Loki responses, and kfake for Kafka.
package e2e

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/traceweave/traceweave/internal/harness"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestHealthNothingConfigured(t *testing.T) {
	p := harness.Start(t)
	res, err := p.CheckHealth(ctxT(t), harness.Settings{JSONData: map[string]any{}})
	require.NoError(t, err)
	require.Equal(t, backend.HealthStatusError, res.Status)
	require.Contains(t, res.Message, "Tempo URL")
	require.Contains(t, res.Message, "Loki URL")
	require.Contains(t, res.Message, "Kafka brokers")
}

func TestHealthInvalidSettingsNamesField(t *testing.T) {
	p := harness.Start(t)
	res, err := p.CheckHealth(ctxT(t), harness.Settings{JSONData: map[string]any{"loki": map[string]any{"url": "loki:3100"}}})
	require.NoError(t, err)
	require.Equal(t, backend.HealthStatusError, res.Status)
	require.Contains(t, res.Message, "loki.url")
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestHealthTempoClosedPortNamesTempoAndAddress(t *testing.T) {
	p := harness.Start(t)
	addr := closedPort(t)
	res, err := p.CheckHealth(ctxT(t), harness.Settings{JSONData: map[string]any{"tempo": map[string]any{"url": "http://" + addr}}})
	require.NoError(t, err)
	require.Equal(t, backend.HealthStatusError, res.Status)
	require.Contains(t, res.Message, "Tempo")
	require.Contains(t, res.Message, addr)
	require.Contains(t, res.Message, "Loki: skipped (not configured)")
	require.Contains(t, res.Message, "Kafka: skipped (not configured)")
}

func TestHealthKafkaMissingTopicNamesTopic(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "otlp_logs"))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	p := harness.Start(t)
	res, err := p.CheckHealth(ctxT(t), harness.Settings{JSONData: map[string]any{"kafka": map[string]any{
		"brokers": c.ListenAddrs(),
		"topics":  []map[string]any{{"name": "otlp_logs"}, {"name": "audit_archive", "encoding": "json"}},
	}}})
	require.NoError(t, err)
	require.Equal(t, backend.HealthStatusError, res.Status)
	require.Contains(t, res.Message, "audit_archive")
}

func TestHealthAllUp(t *testing.T) {
	tempo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/echo" {
			_, _ = w.Write([]byte("echo"))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(tempo.Close)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(16, "otlp_logs"), kfake.SeedTopics(1, "audit"))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	p := harness.Start(t)
	res, err := p.CheckHealth(ctxT(t), harness.Settings{JSONData: map[string]any{
		"tempo": map[string]any{"url": tempo.URL},
		"kafka": map[string]any{"brokers": c.ListenAddrs(), "topics": []map[string]any{{"name": "otlp_logs"}, {"name": "audit"}}},
	}})
	require.NoError(t, err)
	require.Equal(t, backend.HealthStatusOk, res.Status, res.Message)
	require.Contains(t, res.Message, "Tempo: OK")
	require.Contains(t, res.Message, "16")
}

func TestQueryBadTraceIDFailsOnlyItsRefIDWithoutUpstreamCalls(t *testing.T) {
	var calls atomic.Int32
	tempo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(tempo.Close)
	p := harness.Start(t)
	now := time.Now()
	resp, err := p.QueryData(ctxT(t), harness.Settings{JSONData: map[string]any{"tempo": map[string]any{"url": tempo.URL}}},
		harness.Query("A", map[string]any{"traceId": "xyz"}, now.Add(-time.Hour), now),
		harness.Query("B", map[string]any{"traceId": "4bf92f3577b34da6a3ce929d0e0e47361"}, now.Add(-time.Hour), now),
	)
	require.NoError(t, err)
	for _, ref := range []string{"A", "B"} {
		r := resp.Responses[ref]
		require.Error(t, r.Error, ref)
		require.Contains(t, r.Error.Error(), "invalid trace ID", ref)
		require.Equal(t, backend.StatusBadRequest, r.Status, ref)
	}
	require.Zero(t, calls.Load(), "no upstream may be called for a malformed trace ID")
}
