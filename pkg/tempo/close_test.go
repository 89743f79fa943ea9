package tempo

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/models"
)

// TestCloseDropsIdleConnections: after Close the client holds no idle
// connection, so the next request dials anew. The SDK wraps the transport in
// middleware, so http.Client.CloseIdleConnections alone would close nothing
// and a disposed instance's connections would live until the idle timeout.
func TestCloseDropsIdleConnections(t *testing.T) {
	var dials atomic.Int32
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := New(models.TempoSettings{HTTPUpstream: models.HTTPUpstream{URL: srv.URL}})
	require.NoError(t, err)
	ask := func() {
		_, err := c.TraceByID(context.Background(), fixtureTraceID, nil)
		require.True(t, errors.Is(err, ErrTraceNotFound), "%v", err)
	}
	ask()
	ask()
	require.EqualValues(t, 1, dials.Load(), "requests reuse the idle connection")
	c.Close()
	ask()
	require.EqualValues(t, 2, dials.Load(), "after Close the idle connection is gone")
}
