package upstream

import (
	"context"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"

	"github.com/traceweave/traceweave/pkg/models"
)

// MaxResponseBytes caps one upstream HTTP response body, so a runaway Loki
// or Tempo answer cannot exhaust the plugin's memory.
const MaxResponseBytes = 512 << 20

// ClientOptions builds the SDK httpclient options for an HTTP upstream
// configured outside Grafana (the CLI, tests): ClientOptionsFrom with no
// base.
func ClientOptions(h models.HTTPUpstream) httpclient.Options {
	return ClientOptionsFrom(httpclient.Options{}, h)
}

// ClientOptionsFrom builds the SDK httpclient options for an HTTP upstream:
// timeout, custom headers, basic auth or bearer token, tenant header, TLS
// (custom CA, client certificate, server name, insecureSkipVerify), and the
// SDK's default middlewares (tracing, metrics, error source) with a response
// size limit. Every request to Tempo and Loki goes through a client built
// from these.
//
// base is what Grafana configures for every datasource
// (backend.DataSourceInstanceSettings.HTTPClientOptions). Of it, the fields
// that are Grafana's own policy apply to both upstreams: the secure socks
// proxy (private datasource connect), the TLS version bounds (Grafana's
// forced TLS 1.3), header forwarding and the metric labels. The fields the
// SDK reads from Grafana's single-upstream jsonData keys (timeout, basic
// auth, TLS certificates, httpHeaderName<N>, SigV4) do not: this datasource
// has two upstreams, configured apart under tempo.* and loki.*
// (docs/DESIGN.md, "Settings"), and the per-upstream settings replace them.
// base.CustomOptions, which carries the whole decrypted secureJsonData, is
// dropped so no middleware can reach a secret through it.
func ClientOptionsFrom(base httpclient.Options, h models.HTTPUpstream) httpclient.Options {
	timeouts := httpclient.DefaultTimeoutOptions
	if h.Timeout > 0 {
		timeouts.Timeout = time.Duration(h.Timeout)
	}
	opts := httpclient.Options{
		Timeouts:           &timeouts,
		Header:             http.Header{},
		ProxyOptions:       base.ProxyOptions,
		ForwardHTTPHeaders: base.ForwardHTTPHeaders,
		Labels:             maps.Clone(base.Labels),
		Middlewares: append(withoutResponseLimit(httpclient.DefaultMiddlewares()),
			httpclient.ResponseLimitMiddleware(MaxResponseBytes)),
	}
	for _, hd := range h.Headers {
		opts.Header.Set(hd.Name, hd.Value)
	}
	// Auth and tenant are set after the custom headers: settings validation
	// refuses a header that would override them, and should one come
	// through unvalidated settings, the dedicated setting wins.
	if h.BasicAuthUser != "" {
		opts.BasicAuth = &httpclient.BasicAuthOptions{User: h.BasicAuthUser, Password: h.Password}
	} else if h.BearerToken != "" {
		opts.Header.Set("Authorization", "Bearer "+h.BearerToken)
	}
	if h.Tenant != "" {
		opts.Header.Set("X-Scope-OrgID", h.Tenant)
	}
	tlsOpts := httpclient.TLSOptions{InsecureSkipVerify: h.InsecureSkipVerify, ServerName: h.TLSServerName}
	if base.TLS != nil {
		tlsOpts.MinVersion, tlsOpts.MaxVersion = base.TLS.MinVersion, base.TLS.MaxVersion
	}
	if h.TLSAuthWithCACert {
		tlsOpts.CACertificate = h.TLSCACert
	}
	if h.TLSAuth {
		tlsOpts.ClientCertificate, tlsOpts.ClientKey = h.TLSClientCert, h.TLSClientKey
	}
	if tlsOpts != (httpclient.TLSOptions{}) {
		opts.TLS = &tlsOpts
	}
	return opts
}

// withoutResponseLimit drops the default (unlimited) response limit
// middleware so ours is the only one.
func withoutResponseLimit(ms []httpclient.Middleware) []httpclient.Middleware {
	out := ms[:0:0]
	for _, m := range ms {
		if n, ok := m.(httpclient.MiddlewareName); ok && n.MiddlewareName() == httpclient.ResponseLimitMiddlewareName {
			continue
		}
		out = append(out, m)
	}
	return out
}

// MaxRetryAfter is the longest Retry-After an upstream client waits out
// before asking once more. A 429 or 503 asking for longer is reported as it
// is: a dashboard query should fail fast rather than hang, and the user can
// retry.
const MaxRetryAfter = 2 * time.Second

// RetryAfter reads a Retry-After header (delay in seconds or an HTTP date,
// RFC 9110) as a wait from now; ok is false without a usable header.
func RetryAfter(h http.Header, now time.Time) (wait time.Duration, ok bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 || secs > int64(24*time.Hour/time.Second) {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(0, t.Sub(now)), true
}

// RetrySoon reports whether an upstream's refusal asks to be retried soon
// enough to wait for it, and how long to wait: 429 (too many requests) or
// 503 (unavailable) with a Retry-After of at most MaxRetryAfter. Clients ask
// once more after such an answer, never twice.
func RetrySoon(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0, false
	}
	wait, ok := RetryAfter(resp.Header, now)
	return wait, ok && wait <= MaxRetryAfter
}

// Sleep waits d, or less when ctx ends first, returning then ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
