package loki

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCloseDropsIdleConnections: after Close the next query dials anew (the
// SDK's middleware hides the transport from http.Client.CloseIdleConnections,
// so Close must reach the transport itself).
func TestCloseDropsIdleConnections(t *testing.T) {
	var dials atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(categorizedResponse(nil))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	for i := range 3 {
		if i == 2 {
			c.Close()
		}
		_, err := c.Query(context.Background(), "4bf92f3577b34da6a3ce929d0e0e4736", 1, 2)
		require.NoError(t, err)
	}
	require.EqualValues(t, 2, dials.Load(), "two queries share a connection; after Close the third dials anew")
}
