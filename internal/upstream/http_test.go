package upstream

import (
	"net/http"
	"strings"
	"testing"
	"time"

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
