// Package upstreamtest holds HTTP upstream behaviours shared by the Tempo
// and Loki client tests. It is imported by tests only.
package upstreamtest

import (
	"net/http"
	"sync/atomic"
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
