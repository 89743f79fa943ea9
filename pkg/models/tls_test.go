package models

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testCAPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestLoadSettingsKafkaTLSCACert(t *testing.T) {
	jsonData := []byte(`{"kafka":{"brokers":["kafka:9093"],"topics":[{"name":"otlp_logs"}],"tls":{"enabled":true}}}`)
	caPEM := testCAPEM(t)

	s, err := LoadSettings(jsonData, map[string]string{"kafkaTLSCACert": caPEM})
	require.NoError(t, err)
	assert.Equal(t, caPEM, s.Kafka.TLS.CACert)
	pool, err := s.Kafka.TLS.CertPool()
	require.NoError(t, err)
	require.NotNil(t, pool)

	s, err = LoadSettings(jsonData, nil)
	require.NoError(t, err)
	pool, err = s.Kafka.TLS.CertPool()
	require.NoError(t, err)
	assert.Nil(t, pool, "no CA: the system's roots")

	for name, bad := range map[string]string{
		"not PEM":     "hunter2-not-a-cert",
		"a key":       "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n",
		"truncated":   caPEM[:len(caPEM)/2],
		"corrupt DER": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")})),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadSettings(jsonData, map[string]string{"kafkaTLSCACert": bad})
			require.ErrorIs(t, err, ErrInvalidSettings)
			assert.Contains(t, err.Error(), "secureJsonData.kafkaTLSCACert")
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}
