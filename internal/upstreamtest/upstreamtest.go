// Package upstreamtest holds HTTP upstream behaviours shared by the Tempo
// and Loki client tests. It is imported by tests only.
package upstreamtest

import (
	"net"
	"net/http"
	"sync/atomic"
	"testing"
)

// Busy answers its first refusals requests with status (429 or 503, say)
// and, when retryAfter is not empty, a Retry-After header, as a busy Tempo
// or Loki does; later requests go to next. Calls counts every request.
type Busy struct {
	Status     int
	RetryAfter string
	Refusals   int
	Next       http.Handler
	Calls      atomic.Int32
}

func (b *Busy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if int(b.Calls.Add(1)) <= b.Refusals {
		if b.RetryAfter != "" {
			w.Header().Set("Retry-After", b.RetryAfter)
		}
		http.Error(w, "too many outstanding requests", b.Status)
		return
	}
	b.Next.ServeHTTP(w, r)
}

// ClosedAddr is a loopback host:port nothing listens on now: a request to
// it is refused at once (the upstream-unreachable case), and a server
// started by the test may listen on it.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
