package reliability

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/traceweave/traceweave/internal/harness"
)

// tlsKafka is a kfake cluster listening with TLS only, its certificate for
// 127.0.0.1 signed by a private CA (returned as PEM), with one audit line of
// the trace.
func tlsKafka(t *testing.T) (*kfake.Cluster, string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "reliability CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kafka"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	require.NoError(t, err)

	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topicAudit),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}, MinVersion: tls.VersionTLS12}))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	p, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DialTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	require.NoError(t, err)
	defer p.Close()
	rec := &kgo.Record{Topic: topicAudit, Timestamp: exportTime,
		Value: []byte(fmt.Sprintf(`{"time":%q,"level":"info","msg":"audit: read over TLS","trace_id":%q,"span_id":%q}`,
			time.Unix(0, fixtureTSS*1e9+310e6).UTC().Format(time.RFC3339Nano), traceID, spanRails))}
	require.NoError(t, p.ProduceSync(ctxT(t, 30*time.Second), rec).FirstErr())
	return c, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
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
