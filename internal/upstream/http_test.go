package upstream

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
	"github.com/grafana/grafana-plugin-sdk-go/backend/proxy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/models"
)

func TestClientOptions(t *testing.T) {
	h := models.HTTPUpstream{URL: "http://x", Tenant: "team-a", BasicAuthUser: "u", Password: "p", Timeout: models.Duration(5 * time.Second)}
	o := ClientOptions(h)
	require.Equal(t, "team-a", o.Header.Get("X-Scope-OrgID"))
	require.Equal(t, "u", o.BasicAuth.User)
	require.Equal(t, 5*time.Second, o.Timeouts.Timeout)
	b := ClientOptions(models.HTTPUpstream{URL: "http://x", BearerToken: "tok"})
	require.Equal(t, "Bearer tok", b.Header.Get("Authorization"))
	require.Nil(t, b.BasicAuth)
	limits := 0
	for _, m := range o.Middlewares {
		if strings.Contains(m.(interface{ MiddlewareName() string }).MiddlewareName(), "response-limit") {
			limits++
		}
	}
	require.Equal(t, 1, limits, "exactly one response limit middleware")
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	h := func(v string) http.Header { return http.Header{"Retry-After": []string{v}} }
	for v, want := range map[string]time.Duration{
		"0": 0, "2": 2 * time.Second, " 30 ": 30 * time.Second,
		"Thu, 26 Nov 2026 12:00:05 GMT": 5 * time.Second,
		"Thu, 26 Nov 2026 11:59:00 GMT": 0, // in the past: now
	} {
		got, ok := RetryAfter(h(v), now)
		require.True(t, ok, v)
		assert.Equal(t, want, got, v)
	}
	for _, v := range []string{"", "-1", "soon", "1.5", "99999999999"} {
		_, ok := RetryAfter(h(v), now)
		assert.False(t, ok, v)
	}
	_, ok := RetryAfter(http.Header{}, now)
	assert.False(t, ok)
}

// TestClientOptionsFromGrafanaBase: what HTTPClientOptions gives for the
// whole datasource is the base: its proxy, TLS version bounds, header
// forwarding and labels survive; its single-upstream settings (timeout,
// basic auth, headers, TLS certificates) and the secureJsonData it carries
// in CustomOptions do not, the upstream's own settings replace them.
func TestClientOptionsFromGrafanaBase(t *testing.T) {
	ds := backend.DataSourceInstanceSettings{UID: "uid-1", Name: "tw", Type: "traceweave-timeline-datasource",
		BasicAuthEnabled: true, BasicAuthUser: "grafana-user",
		JSONData:                []byte(`{"timeout": 7, "httpHeaderName1": "X-Grafana-Wide", "tlsAuthWithCACert": true, "tlsSkipVerify": true}`),
		DecryptedSecureJSONData: map[string]string{"basicAuthPassword": "gpw", "httpHeaderValue1": "wide", "tlsCACert": "junk"}}
	base, err := ds.HTTPClientOptions(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, base.Header.Get("X-Grafana-Wide"), "the SDK did read the single-upstream keys")
	base.ProxyOptions = &proxy.Options{Enabled: true, DatasourceName: "tw", DatasourceType: "traceweave-timeline-datasource"}
	base.ForwardHTTPHeaders = true
	base.TLS = &httpclient.TLSOptions{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13, CACertificate: "junk", InsecureSkipVerify: true}

	h := models.HTTPUpstream{URL: "https://tempo", Tenant: "team-a", Timeout: models.Duration(3 * time.Second),
		Headers:           []models.HTTPHeader{{Name: "X-Proxy-Key", Value: "k1"}},
		TLSAuthWithCACert: true, TLSCACert: "tempo-ca", TLSServerName: "tempo.internal"}
	o := ClientOptionsFrom(base, h)
	assert.Same(t, base.ProxyOptions, o.ProxyOptions, "the secure socks proxy applies")
	assert.True(t, o.ForwardHTTPHeaders)
	assert.Equal(t, "uid-1", o.Labels["datasource_uid"], "the SDK's metric labels apply")
	require.NotNil(t, o.TLS)
	assert.Equal(t, httpclient.TLSOptions{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13,
		CACertificate: "tempo-ca", ServerName: "tempo.internal"}, *o.TLS, "Grafana's TLS bounds with the upstream's own certificates")
	assert.Equal(t, 3*time.Second, o.Timeouts.Timeout)
	assert.Nil(t, o.BasicAuth, "Grafana's single basic auth is not the upstream's")
	assert.Empty(t, o.Header.Get("X-Grafana-Wide"))
	assert.Equal(t, "k1", o.Header.Get("X-Proxy-Key"))
	assert.Equal(t, "team-a", o.Header.Get("X-Scope-OrgID"))
	assert.Nil(t, o.CustomOptions, "no middleware gets the decrypted secureJsonData")

	// Without Grafana (the CLI): no proxy, no TLS unless configured.
	z := ClientOptions(models.HTTPUpstream{URL: "http://tempo"})
	assert.Nil(t, z.ProxyOptions)
	assert.Nil(t, z.TLS)
}

// TestClientOptionsTLS: a CA or a client certificate is used only with its
// toggle on, so a PEM left behind after switching it off is inert.
func TestClientOptionsTLS(t *testing.T) {
	h := models.HTTPUpstream{URL: "https://loki", TLSCACert: "ca", TLSClientCert: "cert", TLSClientKey: "key"}
	assert.Nil(t, ClientOptions(h).TLS)
	h.TLSAuth = true
	assert.Equal(t, &httpclient.TLSOptions{ClientCertificate: "cert", ClientKey: "key"}, ClientOptions(h).TLS)
	h.TLSAuthWithCACert, h.InsecureSkipVerify = true, true
	assert.Equal(t, &httpclient.TLSOptions{CACertificate: "ca", ClientCertificate: "cert", ClientKey: "key", InsecureSkipVerify: true}, ClientOptions(h).TLS)
}

// TestClientOptionsAuthWinsOverHeaders: should unvalidated settings carry
// an Authorization or X-Scope-OrgID header, the dedicated setting wins.
func TestClientOptionsAuthWinsOverHeaders(t *testing.T) {
	o := ClientOptions(models.HTTPUpstream{BearerToken: "tok", Tenant: "t",
		Headers: []models.HTTPHeader{{Name: "Authorization", Value: "x"}, {Name: "X-Scope-OrgID", Value: "y"}}})
	assert.Equal(t, "Bearer tok", o.Header.Get("Authorization"))
	assert.Equal(t, "t", o.Header.Get("X-Scope-OrgID"))
}
