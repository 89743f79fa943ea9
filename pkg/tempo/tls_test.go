package tempo

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/internal/upstreamtest"
	"github.com/traceweave/traceweave/pkg/models"
)

// healthy answers every request 200, as Tempo's /api/echo does.
var healthy = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("echo")) })

func checkHealth(t *testing.T, h models.HTTPUpstream) error {
	t.Helper()
	c, err := New(models.TempoSettings{HTTPUpstream: h})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.CheckHealth(context.Background())
}

// TestTLSCustomCA: a Tempo whose certificate a private CA signed is
// reachable with tempo.tlsAuthWithCACert and that CA, and refused with a
// certificate error without it.
func TestTLSCustomCA(t *testing.T) {
	pki := upstreamtest.NewPKI(t)
	srv := pki.StartTLS(t, healthy, false)

	err := checkHealth(t, models.HTTPUpstream{URL: srv.URL})
	require.Error(t, err, "the system roots do not know the test CA")
	assert.Contains(t, err.Error(), "certificate")

	require.NoError(t, checkHealth(t, models.HTTPUpstream{URL: srv.URL, TLSAuthWithCACert: true, TLSCACert: pki.CAPEM}))

	// The CA PEM is ignored while the toggle is off.
	require.Error(t, checkHealth(t, models.HTTPUpstream{URL: srv.URL, TLSCACert: pki.CAPEM}))

	// tlsServerName: the certificate is checked against that name; a
	// name it does not hold is refused.
	require.NoError(t, checkHealth(t, models.HTTPUpstream{URL: srv.URL, TLSAuthWithCACert: true, TLSCACert: pki.CAPEM, TLSServerName: pki.ServerName}))
	err = checkHealth(t, models.HTTPUpstream{URL: srv.URL, TLSAuthWithCACert: true, TLSCACert: pki.CAPEM, TLSServerName: "other.example"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
}

// TestTLSClientCertificate: a Tempo that requires a client certificate
// accepts the one of tempo.tlsAuth and refuses a client without it.
func TestTLSClientCertificate(t *testing.T) {
	pki := upstreamtest.NewPKI(t)
	srv := pki.StartTLS(t, healthy, true)
	withCA := models.HTTPUpstream{URL: srv.URL, TLSAuthWithCACert: true, TLSCACert: pki.CAPEM}

	require.Error(t, checkHealth(t, withCA), "the server requires a client certificate")

	withCert := withCA
	withCert.TLSAuth, withCert.TLSClientCert, withCert.TLSClientKey = true, pki.ClientCertPEM, pki.ClientKeyPEM
	require.NoError(t, checkHealth(t, withCert))
}

// TestCustomHeadersReachTempo: tempo.headers are sent on every request,
// alongside the tenant and bearer token, and a value never shows in the
// client's errors.
func TestCustomHeadersReachTempo(t *testing.T) {
	const secret = "hdr-secret-Vb71Qa"
	pki := upstreamtest.NewPKI(t)
	rec := &upstreamtest.HeaderRecorder{}
	srv := pki.StartTLS(t, rec, false)
	err := checkHealth(t, models.HTTPUpstream{URL: srv.URL, TLSAuthWithCACert: true, TLSCACert: pki.CAPEM,
		Tenant: testTenant, BearerToken: "tok",
		Headers: []models.HTTPHeader{{Name: "X-Proxy-Key", Value: secret}, {Name: "X-Tenant", Value: "blue"}}})
	require.Error(t, err, "the fake answers 500")
	assert.NotContains(t, err.Error(), secret)
	seen := rec.Seen()
	require.NotEmpty(t, seen)
	for _, h := range seen {
		assert.Equal(t, secret, h.Get("X-Proxy-Key"))
		assert.Equal(t, "blue", h.Get("X-Tenant"))
		assert.Equal(t, testTenant, h.Get("X-Scope-OrgID"))
		assert.Equal(t, "Bearer tok", h.Get("Authorization"))
	}
	assert.False(t, strings.Contains(err.Error(), "blue"), "header values stay out of errors")
}
