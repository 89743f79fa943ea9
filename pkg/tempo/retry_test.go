package tempo

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

// TestRetryAfter: a busy Tempo (429 or 503) that asks to come back within
// upstream.MaxRetryAfter is asked once more; otherwise the refusal is the
// answer.
func TestRetryAfter(t *testing.T) {
	body := fixture(t, "tempo_trace_v2.pb")
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		refusals   int
		wantCalls  int32
		wantStatus int // 0: the trace is found
	}{
		{"429, come back now", http.StatusTooManyRequests, "0", 1, 2, 0},
		{"503, come back in a second", http.StatusServiceUnavailable, "1", 1, 2, 0},
		{"429 twice: one retry only", http.StatusTooManyRequests, "0", 2, 2, http.StatusTooManyRequests},
		{"429, come back in 30 s: not waited for", http.StatusTooManyRequests, "30", 1, 1, http.StatusTooManyRequests},
		{"503 without Retry-After", http.StatusServiceUnavailable, "", 1, 1, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			busy := &upstreamtest.Busy{Status: tc.status, RetryAfter: tc.retryAfter, Refusals: tc.refusals,
				Next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", ctPB)
					_, _ = w.Write(body)
				})}
			srv := httptest.NewServer(busy)
			t.Cleanup(srv.Close)
			c := newTestClient(t, srv.URL, 0)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := c.TraceByID(ctx, fixtureTraceID, nil)
			assert.Equal(t, tc.wantCalls, busy.Calls.Load(), "requests")
			if tc.wantStatus == 0 {
				require.NoError(t, err)
				assert.NotEmpty(t, res.Trace.Spans)
				return
			}
			var ue *upstream.Error
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, tc.wantStatus, ue.Status)
		})
	}
}
