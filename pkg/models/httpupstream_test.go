package models

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/internal/upstreamtest"
)

// TestHTTPUpstreamHeadersAndTLSLoad: names from jsonData, values and PEMs
// from secureJsonData (<upstream>Header<N>, <upstream>TLS*), and the
// secret ones are in Secrets so the redactor scrubs them.
func TestHTTPUpstreamHeadersAndTLSLoad(t *testing.T) {
	pki := upstreamtest.NewPKI(t)
	s, err := LoadSettings([]byte(`{
		"tempo":{"url":"https://tempo","headers":[{"name":" X-Proxy-Key "},{"name":"X-Org"}],
			"tlsAuthWithCACert":true,"tlsAuth":true,"tlsServerName":" tempo.internal "},
		"loki":{"url":"https://loki","headers":[{"name":"X-Loki-Key"}],"tlsAuthWithCACert":true}}`),
		map[string]string{"tempoHeader1": "tk-1", "tempoHeader2": "org-2", "lokiHeader1": "lk-1",
			"tempoTLSCACert": pki.CAPEM, "tempoTLSClientCert": pki.ClientCertPEM, "tempoTLSClientKey": pki.ClientKeyPEM,
			"lokiTLSCACert": pki.CAPEM})
	require.NoError(t, err)
	assert.Equal(t, []HTTPHeader{{Name: "X-Proxy-Key", Value: "tk-1"}, {Name: "X-Org", Value: "org-2"}}, s.Tempo.Headers)
	assert.Equal(t, []HTTPHeader{{Name: "X-Loki-Key", Value: "lk-1"}}, s.Loki.Headers)
	assert.Equal(t, "tempo.internal", s.Tempo.TLSServerName)
	assert.Equal(t, pki.CAPEM, s.Tempo.TLSCACert)
	assert.Equal(t, pki.ClientKeyPEM, s.Tempo.TLSClientKey)
	assert.Equal(t, pki.CAPEM, s.Loki.TLSCACert)
	secrets := s.Secrets()
	for _, v := range []string{"tk-1", "org-2", "lk-1", pki.ClientKeyPEM} {
		assert.Contains(t, secrets, v)
	}
}

// TestHTTPUpstreamValidation: each mistake names its field and never
// quotes a header value or a PEM.
func TestHTTPUpstreamValidation(t *testing.T) {
	pki := upstreamtest.NewPKI(t)
	other := upstreamtest.NewPKI(t)
	cases := []struct {
		name, jsonData string
		secure         map[string]string
		field, says    string
	}{
		{"empty name", `{"tempo":{"headers":[{"name":""}]}}`, nil, "tempo.headers[0].name", "is empty"},
		{"not a token", `{"loki":{"headers":[{"name":"X Key"}]}}`, map[string]string{"lokiHeader1": "v-Secret1"}, "loki.headers[0].name", "not an HTTP header name"},
		{"colon", `{"tempo":{"headers":[{"name":"X-Key:"}]}}`, nil, "tempo.headers[0].name", "not an HTTP header name"},
		{"twice", `{"tempo":{"headers":[{"name":"X-Key"},{"name":"x-key"}]}}`, nil, "tempo.headers[1].name", "also tempo.headers[0]"},
		{"authorization over basic auth", `{"tempo":{"basicAuthUser":"u","headers":[{"name":"authorization"}]}}`,
			map[string]string{"tempoHeader1": "v-Secret1"}, "tempo.headers[0].name", "tempo.basicAuthUser"},
		{"authorization over bearer", `{"loki":{"headers":[{"name":"Authorization"}]}}`,
			map[string]string{"lokiBearerToken": "tok-Secret2", "lokiHeader1": "v-Secret1"}, "loki.headers[0].name", "secureJsonData.lokiBearerToken"},
		{"tenant over tenant", `{"loki":{"tenant":"a","headers":[{"name":"X-Scope-OrgID"}]}}`, nil, "loki.headers[0].name", "loki.tenant"},
		{"CA on, none given", `{"tempo":{"tlsAuthWithCACert":true}}`, nil, "tempo.tlsAuthWithCACert", "secureJsonData.tempoTLSCACert is empty"},
		{"CA not PEM", `{"loki":{"tlsAuthWithCACert":true}}`, map[string]string{"lokiTLSCACert": "not-a-pem-Secret3"}, "secureJsonData.lokiTLSCACert", "is not PEM"},
		{"CA is a key", `{"tempo":{"tlsAuthWithCACert":true}}`, map[string]string{"tempoTLSCACert": pki.ClientKeyPEM}, "secureJsonData.tempoTLSCACert", "EC PRIVATE KEY"},
		{"CA with trailing junk", `{"tempo":{"tlsAuthWithCACert":true}}`, map[string]string{"tempoTLSCACert": pki.CAPEM + "junk-Secret4"}, "secureJsonData.tempoTLSCACert", "text after"},
		{"client cert missing", `{"tempo":{"tlsAuth":true}}`, map[string]string{"tempoTLSClientKey": pki.ClientKeyPEM}, "tempo.tlsAuth", "tempoTLSClientCert is empty"},
		{"client key missing", `{"loki":{"tlsAuth":true}}`, map[string]string{"lokiTLSClientCert": pki.ClientCertPEM}, "loki.tlsAuth", "lokiTLSClientKey is empty"},
		{"key of another cert", `{"loki":{"tlsAuth":true}}`, map[string]string{"lokiTLSClientCert": pki.ClientCertPEM, "lokiTLSClientKey": other.ClientKeyPEM},
			"secureJsonData.lokiTLSClientKey", "does not match"},
		{"server name with port", `{"tempo":{"tlsServerName":"tempo:443"}}`, nil, "tempo.tlsServerName", "not a host name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadSettings([]byte(c.jsonData), c.secure)
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrInvalidSettings))
			assert.Contains(t, err.Error(), c.field+": ")
			assert.Contains(t, err.Error(), c.says)
			for _, v := range c.secure {
				assert.NotContains(t, err.Error(), strings.TrimSpace(v), "a secret is quoted")
			}
			assert.NotContains(t, err.Error(), "Secret")
			assert.NotContains(t, err.Error(), "PRIVATE KEY-----")
		})
	}
}

// TestHTTPUpstreamTLSOffIgnoresPEMs: PEMs left in secureJsonData with
// their toggle off are not validated (the editor keeps them while a user
// switches the toggle), and the CLI-style settings without any load fine.
func TestHTTPUpstreamTLSOffIgnoresPEMs(t *testing.T) {
	_, err := LoadSettings([]byte(`{"tempo":{"url":"https://tempo"}}`),
		map[string]string{"tempoTLSCACert": "junk", "tempoTLSClientCert": "junk", "tempoTLSClientKey": "junk"})
	require.NoError(t, err)
}
