package loki

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/internal/upstreamtest"
	"github.com/traceweave/traceweave/pkg/models"
)

// lokiReady answers /ready and the labels request of CheckHealth as Loki does.
var lokiReady = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"success","data":[]}`))
})

func lokiHealth(t *testing.T, h models.HTTPUpstream) error {
	t.Helper()
	c, err := New(models.LokiSettings{HTTPUpstream: h})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.CheckHealth(context.Background())
}

// TestTLSCustomCA: a Loki whose certificate a private CA signed is
// reachable with loki.tlsAuthWithCACert and that CA, and refused with a
// certificate error without it.
func TestTLSCustomCA(t *testing.T) {
	pki := upstreamtest.NewPKI(t)
	srv := pki.StartTLS(t, lokiReady, false)

	err := lokiHealth(t, models.HTTPUpstream{URL: srv.URL})
	require.Error(t, err, "the system roots do not know the test CA")
	assert.Contains(t, err.Error(), "certificate")

	require.NoError(t, lokiHealth(t, models.HTTPUpstream{URL: srv.URL, TLSAuthWithCACert: true, TLSCACert: pki.CAPEM}))
	require.NoError(t, lokiHealth(t, models.HTTPUpstream{URL: srv.URL, TLSAuthWithCACert: true, TLSCACert: pki.CAPEM, TLSServerName: pki.ServerName}))
}

// TestTLSClientCertificate: a Loki that requires a client certificate
// accepts the one of loki.tlsAuth and refuses a client without it.
func TestTLSClientCertificate(t *testing.T) {
	pki := upstreamtest.NewPKI(t)
	srv := pki.StartTLS(t, lokiReady, true)
	withCA := models.HTTPUpstream{URL: srv.URL, TLSAuthWithCACert: true, TLSCACert: pki.CAPEM}

	require.Error(t, lokiHealth(t, withCA), "the server requires a client certificate")

	withCert := withCA
	withCert.TLSAuth, withCert.TLSClientCert, withCert.TLSClientKey = true, pki.ClientCertPEM, pki.ClientKeyPEM
	require.NoError(t, lokiHealth(t, withCert))
}

// TestCustomHeadersReachLoki: loki.headers are sent on every request,
// alongside the tenant and basic auth, and a value never shows in the
// client's errors.
func TestCustomHeadersReachLoki(t *testing.T) {
	const secret = "hdr-secret-Lp30Xe"
	srv := upstreamtest.NewPKI(t)
	rec := &upstreamtest.HeaderRecorder{}
	ts := srv.StartTLS(t, rec, false)
	err := lokiHealth(t, models.HTTPUpstream{URL: ts.URL, TLSAuthWithCACert: true, TLSCACert: srv.CAPEM,
		Tenant: "team-b", BasicAuthUser: "bob", Password: "pw",
		Headers: []models.HTTPHeader{{Name: "X-Proxy-Key", Value: secret}}})
	require.Error(t, err, "the fake answers 500")
	assert.NotContains(t, err.Error(), secret)
	seen := rec.Seen()
	require.NotEmpty(t, seen)
	for _, h := range seen {
		assert.Equal(t, secret, h.Get("X-Proxy-Key"))
		assert.Equal(t, "team-b", h.Get("X-Scope-OrgID"))
		user, pw, ok := (&http.Request{Header: h}).BasicAuth()
		assert.True(t, ok && user == "bob" && pw == "pw", "basic auth still sent")
	}
}
