package loadgen_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/traceweave/traceweave/demo/internal/loadgen"
	"github.com/traceweave/traceweave/demo/internal/otelsetup/otelsetuptest"
)

func TestParseTraceparent(t *testing.T) {
	tid, sid, ok := loadgen.ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if !ok || tid != "4bf92f3577b34da6a3ce929d0e0e4736" || sid != "00f067aa0ba902b7" {
		t.Fatalf("got %q %q %v", tid, sid, ok)
	}
	for _, bad := range []string{"", "00-abc-def-01", "garbage"} {
		if _, _, ok := loadgen.ParseTraceparent(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// The loadgen sends the mix at the given rate, each request with a
// traceparent, and logs the trace ID it sent.
func TestRunSendsTracedMixAndLogsTraceIDs(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{} // path -> trace ID from the received traceparent
	paths := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tid, _, ok := loadgen.ParseTraceparent(r.Header.Get("traceparent"))
		if !ok {
			t.Errorf("%s %s without a valid traceparent: %q", r.Method, r.URL, r.Header.Get("traceparent"))
		}
		mu.Lock()
		seen[tid] = r.URL.RequestURI()
		paths[r.Method+" "+r.URL.RequestURI()]++
		mu.Unlock()
		if r.URL.Path == "/flaky-cache" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()

	tel := otelsetuptest.NewService(t, "loadgen")
	var results []loadgen.Result
	var rmu sync.Mutex
	start := time.Now()
	n := loadgen.Run(context.Background(), loadgen.Config{
		Target: srv.URL, Rate: 200, MaxRequests: 60, Seed: 7,
		TracerProvider: tel.TracerProvider, Logger: tel.Logger,
	}, func(r loadgen.Result) {
		rmu.Lock()
		results = append(results, r)
		rmu.Unlock()
	})
	if n != 60 || len(results) != 60 {
		t.Fatalf("sent %d, results %d, want 60", n, len(results))
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("60 requests at 200/s took %v: rate not applied", d)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, r := range results {
		if r.Err != nil {
			t.Errorf("%s %s: %v", r.Method, r.Path, r.Err)
		}
		if _, ok := seen[r.TraceID]; !ok {
			t.Errorf("result trace ID %q was not received by the server", r.TraceID)
		}
	}
	for _, want := range []string{"/orders", "/slow"} {
		found := false
		for p := range paths {
			if len(p) > 4 && p[len(p)-len(want):] == want {
				found = true
			}
		}
		if !found {
			t.Errorf("mix never sent %s: %v", want, paths)
		}
	}
	// Every JSON log line names the trace ID that was sent.
	lines := tel.JSON.Lines()
	if len(lines) != 60 {
		t.Fatalf("%d log lines, want 60", len(lines))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := seen[m["trace_id"].(string)]; !ok {
			t.Errorf("log line trace_id not sent: %s", l)
		}
	}
	if got := len(tel.Spans.Ended()); got != 60 {
		t.Errorf("%d client spans, want 60", got)
	}
}

// Run returns when its context is cancelled (SIGTERM in the command).
func TestRunStopsOnCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	tel := otelsetuptest.NewService(t, "loadgen")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan int)
	go func() {
		done <- loadgen.Run(ctx, loadgen.Config{Target: srv.URL, Rate: 50, TracerProvider: tel.TracerProvider, Logger: tel.Logger}, nil)
	}()
	select {
	case n := <-done:
		if n == 0 {
			t.Error("no request sent before cancel")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop after cancel")
	}
}
