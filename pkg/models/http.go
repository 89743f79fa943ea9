package models

import (
	"net/http"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
)

// DefaultMaxResponseBytes caps one upstream HTTP response body, so a runaway
// Loki or Tempo answer cannot exhaust the plugin's memory.
const DefaultMaxResponseBytes = 512 << 20

// ClientOptions builds the SDK httpclient options for an HTTP upstream:
// timeout, basic auth or bearer token, tenant header, and the SDK's default
// middlewares (tracing, metrics, error source) with a response size limit.
// Every request to Tempo and Loki goes through a client built from these.
func (h HTTPUpstream) ClientOptions() httpclient.Options {
	timeouts := httpclient.DefaultTimeoutOptions
	if h.Timeout > 0 {
		timeouts.Timeout = time.Duration(h.Timeout)
	}
	opts := httpclient.Options{
		Timeouts: &timeouts,
		Header:   http.Header{},
		Middlewares: append(withoutResponseLimit(httpclient.DefaultMiddlewares()),
			httpclient.ResponseLimitMiddleware(DefaultMaxResponseBytes)),
	}
	if h.BasicAuthUser != "" {
		opts.BasicAuth = &httpclient.BasicAuthOptions{User: h.BasicAuthUser, Password: h.Password}
	} else if h.BearerToken != "" {
		opts.Header.Set("Authorization", "Bearer "+h.BearerToken)
	}
	if h.Tenant != "" {
		opts.Header.Set("X-Scope-OrgID", h.Tenant)
	}
	if h.InsecureSkipVerify {
		opts.TLS = &httpclient.TLSOptions{InsecureSkipVerify: true}
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
