// Package loadgen sends steady, traced traffic to go-proxy and logs the trace
// ID of every request (taken from the traceparent header it sends).
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/traceweave/traceweave/demo/internal/otelsetup"
)

// Request is one kind of request in the mix.
type Request struct {
	Name   string
	Weight int
	// Build returns method, path and body (nil for none).
	Build func(r *rand.Rand) (method, path string, body []byte)
}

// DefaultMix: mostly normal traffic, plus a few slow and failing requests.
func DefaultMix() []Request {
	items := []string{"keyboard", "mouse", "monitor", "headset", "webcam", "dock"}
	return []Request{
		{"get-user", 40, func(r *rand.Rand) (string, string, []byte) {
			return http.MethodGet, fmt.Sprintf("/users/%d", 1+r.IntN(20)), nil
		}},
		{"create-order", 20, func(r *rand.Rand) (string, string, []byte) {
			b := fmt.Sprintf(`{"user_id":%d,"item":%q,"quantity":%d}`, 1+r.IntN(20), items[r.IntN(len(items))], 1+r.IntN(3))
			return http.MethodPost, "/orders", []byte(b)
		}},
		{"list-orders", 25, func(*rand.Rand) (string, string, []byte) { return http.MethodGet, "/orders", nil }},
		{"slow", 5, func(*rand.Rand) (string, string, []byte) { return http.MethodGet, "/slow", nil }},
		{"flaky-cache", 5, func(*rand.Rand) (string, string, []byte) { return http.MethodGet, "/flaky-cache", nil }},
		{"rails-fail", 5, func(*rand.Rand) (string, string, []byte) { return http.MethodGet, "/orders?fail=1", nil }},
	}
}

// Config for Run.
type Config struct {
	Target         string  // base URL, e.g. http://go-proxy:8080
	Rate           float64 // requests per second
	MaxRequests    int     // stop after this many (0: until ctx is done)
	Mix            []Request
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
	Logger         *slog.Logger
	Transport      http.RoundTripper // base transport under otelhttp
	Timeout        time.Duration     // per request (default 15s)
	Seed           uint64
	MaxInFlight    int // default 64
}

// Result of one request, as logged.
type Result struct {
	Name, Method, Path string
	Status             int
	TraceID, SpanID    string
	Err                error
	Duration           time.Duration
}

type traceparentKey struct{}

// captureTraceparent sits under the otelhttp transport and records the
// traceparent header that is actually sent.
type captureTraceparent struct{ base http.RoundTripper }

func (c captureTraceparent) RoundTrip(r *http.Request) (*http.Response, error) {
	if p, ok := r.Context().Value(traceparentKey{}).(*string); ok {
		*p = r.Header.Get("traceparent")
	}
	return c.base.RoundTrip(r)
}

// ParseTraceparent splits a W3C traceparent ("00-<32hex>-<16hex>-<2hex>").
func ParseTraceparent(tp string) (traceID, spanID string, ok bool) {
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || len(parts[1]) != 32 || len(parts[2]) != 16 {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// Run sends requests at cfg.Rate until ctx is cancelled (or MaxRequests are
// sent), waits for those in flight, and returns how many were sent. onResult,
// if non-nil, sees every result (it may be called concurrently).
func Run(ctx context.Context, cfg Config, onResult func(Result)) int {
	if cfg.Rate <= 0 {
		cfg.Rate = 5
	}
	if cfg.Mix == nil {
		cfg.Mix = DefaultMix()
	}
	if cfg.Propagator == nil {
		cfg.Propagator = otelsetup.NewPropagator()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 64
	}
	base := cfg.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client := &http.Client{
		Timeout: cfg.Timeout,
		Transport: otelhttp.NewTransport(captureTraceparent{base},
			otelhttp.WithTracerProvider(cfg.TracerProvider),
			otelhttp.WithPropagators(cfg.Propagator),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
				return "loadgen " + r.Method + " " + r.URL.Path
			}),
		),
	}
	total := 0
	for _, m := range cfg.Mix {
		total += m.Weight
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(time.Now().UnixNano())))
	if cfg.Seed != 0 {
		rng = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed))
	}
	target := strings.TrimRight(cfg.Target, "/")

	ticker := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
	defer ticker.Stop()
	sem := make(chan struct{}, cfg.MaxInFlight)
	var wg sync.WaitGroup
	sent := 0
	for cfg.MaxRequests <= 0 || sent < cfg.MaxRequests {
		select {
		case <-ctx.Done():
			wg.Wait()
			return sent
		case <-ticker.C:
		}
		req := pick(cfg.Mix, total, rng)
		method, path, body := req.Build(rng)
		select {
		case sem <- struct{}{}:
		default:
			cfg.Logger.Warn("too many requests in flight, skipping a tick", "in_flight", cfg.MaxInFlight)
			continue
		}
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res := do(context.WithoutCancel(ctx), client, target, req.Name, method, path, body)
			logResult(cfg.Logger, res)
			if onResult != nil {
				onResult(res)
			}
		}()
	}
	wg.Wait()
	return sent
}

func pick(mix []Request, total int, rng *rand.Rand) Request {
	n := rng.IntN(total)
	for _, m := range mix {
		if n < m.Weight {
			return m
		}
		n -= m.Weight
	}
	return mix[len(mix)-1]
}

func do(ctx context.Context, client *http.Client, target, name, method, path string, body []byte) Result {
	res := Result{Name: name, Method: method, Path: path}
	var tp string
	ctx = context.WithValue(ctx, traceparentKey{}, &tp)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target+path, rd)
	if err != nil {
		res.Err = err
		return res
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := client.Do(req)
	res.Duration = time.Since(start)
	// The transport chain has returned: tp is no longer written.
	res.TraceID, res.SpanID, _ = ParseTraceparent(tp)
	if err != nil {
		res.Err = err
		return res
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	res.Status = resp.StatusCode
	return res
}

// logResult logs under the span context the request carried, so the JSON
// line gets trace_id/span_id and the OTLP record its trace context.
func logResult(log *slog.Logger, r Result) {
	ctx := context.Background()
	tid, err1 := trace.TraceIDFromHex(r.TraceID)
	sid, err2 := trace.SpanIDFromHex(r.SpanID)
	if err1 == nil && err2 == nil {
		ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled,
		}))
	}
	attrs := []any{
		"request", r.Name, "method", r.Method, "path", r.Path,
		"status", r.Status, "duration_ms", r.Duration.Milliseconds(),
	}
	switch {
	case r.Err != nil:
		log.ErrorContext(ctx, "request failed", append(attrs, "error", r.Err.Error())...)
	case r.Status >= 500:
		log.WarnContext(ctx, "request returned an error", attrs...)
	default:
		log.InfoContext(ctx, "request sent", attrs...)
	}
}
