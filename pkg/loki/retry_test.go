package loki

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/internal/upstream"
	"github.com/traceweave/traceweave/internal/upstreamtest"
)

// TestRetryAfter: a busy Loki (429 or 503) that asks to come back within
// upstream.MaxRetryAfter is asked once more; a longer wait, or a second
// refusal, is reported as the refusal.
func TestRetryAfter(t *testing.T) {
	ok := categorizedResponse([]fakeLine{{stream: map[string]string{"service_name": "api"}, ts: 1_000, line: "GET /x trace_id=" + fixtureTraceID}})
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		refusals   int // answers refused before the good one
		wantCalls  int32
		wantErr    error
	}{
		{"429, come back now", http.StatusTooManyRequests, "0", 1, 2, nil},
		{"503, come back in a second", http.StatusServiceUnavailable, "1", 1, 2, nil},
		{"429 twice: one retry only", http.StatusTooManyRequests, "0", 2, 2, ErrRateLimited},
		{"429, come back in 30 s: not waited for", http.StatusTooManyRequests, "30", 1, 1, ErrRateLimited},
		{"429 without Retry-After", http.StatusTooManyRequests, "", 1, 1, ErrRateLimited},
		{"500 with Retry-After is not retried", http.StatusInternalServerError, "0", 1, 1, errStatus500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			busy := &upstreamtest.Busy{Status: tc.status, RetryAfter: tc.retryAfter, Refusals: tc.refusals,
				Next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write(ok)
				})}
			srv := httptest.NewServer(busy)
			t.Cleanup(srv.Close)
			c := newTestClient(t, srv.URL, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := c.Query(ctx, fixtureTraceID, 0, 2_000)
			assert.Equal(t, tc.wantCalls, busy.Calls.Load(), "requests")
			if tc.wantErr == nil {
				require.NoError(t, err)
				assert.Len(t, res.Records, 1)
				return
			}
			if tc.wantErr == errStatus500 {
				var ue *upstream.Error
				require.ErrorAs(t, err, &ue)
				assert.Equal(t, http.StatusInternalServerError, ue.Status)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
}

// errStatus500 marks the case expecting the 500 itself.
var errStatus500 = newStatusError(http.StatusInternalServerError, pathQueryRange, nil)

func TestRetryAfterStopsWithTheQuery(t *testing.T) {
	// Always busy, asking to come back in 2s.
	srv := httptest.NewServer(&upstreamtest.Busy{Status: http.StatusServiceUnavailable, RetryAfter: "2", Refusals: 1 << 30})
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Query(ctx, fixtureTraceID, 0, 2_000)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the wait ends with the query's deadline")
}
