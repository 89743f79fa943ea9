package reliability

import (
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/traceweave/traceweave/internal/harness"
	"github.com/traceweave/traceweave/internal/upstreamtest"
)

// tlsKafka is a kfake cluster listening with TLS only, its certificate for
// 127.0.0.1 signed by a private CA (returned as PEM), with one audit line of
// the trace.
func tlsKafka(t *testing.T) (*kfake.Cluster, string) {
	t.Helper()
	ca := upstreamtest.NewPKI(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topicAudit), kfake.TLS(ca.ServerTLS()))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	p, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Roots(), MinVersion: tls.VersionTLS12}))
	require.NoError(t, err)
	defer p.Close()
	rec := &kgo.Record{Topic: topicAudit, Timestamp: exportTime,
		Value: []byte(fmt.Sprintf(`{"time":%q,"level":"info","msg":"audit: read over TLS","trace_id":%q,"span_id":%q}`,
			time.Unix(0, fixtureTSS*1e9+310e6).UTC().Format(time.RFC3339Nano), traceID, spanRails))}
	require.NoError(t, p.ProduceSync(ctxT(t, 30*time.Second), rec).FirstErr())
	return c, ca.CAPEM
}

// TestKafkaTLSPrivateCA reads a TLS-only cluster through the built binary:
// with secureJsonData.kafkaTLSCACert the line is read and the health check
// passes; without it the query fails as unreachable (502) and the health
// check says it is TLS, what is wrong with the certificate and what to set.
func TestKafkaTLSPrivateCA(t *testing.T) {
	p := harness.Start(t)
	c, caPEM := tlsKafka(t)
	tlsOn := map[string]any{"tls": map[string]any{"enabled": true}}

	t.Run("with the CA", func(t *testing.T) {
		s, sources := kafkaSettings(t, true, c.ListenAddrs(), tlsOn, map[string]string{"kafkaTLSCACert": caPEM})
		resp, err := p.QueryData(ctxT(t, caseTimeout), s, query("A", map[string]any{"sources": sources}))
		require.NoError(t, err)
		r := resultOf(t, resp, "A")
		require.NoError(t, r.err)
		assert.Equal(t, 1, r.logs["kafka:audit"])
		h, err := p.CheckHealth(ctxT(t, caseTimeout), s)
		require.NoError(t, err)
		assert.Equal(t, backend.HealthStatusOk, h.Status, h.Message)
	})
	t.Run("without the CA", func(t *testing.T) {
		s, sources := kafkaSettings(t, true, c.ListenAddrs(), tlsOn, nil)
		resp, err := p.QueryData(ctxT(t, caseTimeout), s, query("A", map[string]any{"sources": sources}))
		require.NoError(t, err)
		dr := resp.Responses["A"]
		require.Error(t, dr.Error)
		assert.Equal(t, backend.StatusBadGateway, dr.Status)
		assert.Contains(t, dr.Error.Error(), "TLS handshake with the broker failed")
		assert.Contains(t, dr.Error.Error(), "certificate signed by unknown authority")
		h, err := p.CheckHealth(ctxT(t, caseTimeout), s)
		require.NoError(t, err)
		assert.Equal(t, backend.HealthStatusError, h.Status)
		assert.Contains(t, h.Message, "Kafka: ")
		assert.Contains(t, h.Message, "TLS handshake with the broker failed")
		assert.Contains(t, h.Message, "certificate signed by unknown authority")
		assert.Contains(t, h.Message, "secureJsonData.kafkaTLSCACert")
	})
	t.Run("not a PEM certificate", func(t *testing.T) {
		s, _ := kafkaSettings(t, true, c.ListenAddrs(), tlsOn, map[string]string{"kafkaTLSCACert": "not a certificate"})
		h, err := p.CheckHealth(ctxT(t, caseTimeout), s)
		require.NoError(t, err)
		assert.Equal(t, backend.HealthStatusError, h.Status)
		assert.Contains(t, h.Message, "secureJsonData.kafkaTLSCACert")
		assert.Contains(t, h.Message, "not a PEM certificate")
	})
}
