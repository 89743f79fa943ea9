// Package proxy is go-proxy: an instrumented reverse proxy in front of go-api.
package proxy

import (
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/traceweave/traceweave/demo/internal/httpx"
	"github.com/traceweave/traceweave/demo/internal/otelsetup"
)

// Config holds go-proxy's dependencies.
type Config struct {
	Upstream       *url.URL
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator // default otelsetup.NewPropagator()
	Logger         *slog.Logger
	// Transport is the base transport under the otelhttp one (default http.DefaultTransport).
	Transport http.RoundTripper
}

// New returns go-proxy's handler: an otelhttp server handler around an
// httputil.ReverseProxy whose outgoing transport is otelhttp too, so the
// upstream sees a traceparent naming the proxy's client span.
func New(cfg Config) http.Handler {
	if cfg.Propagator == nil {
		cfg.Propagator = otelsetup.NewPropagator()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	base := cfg.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	log := cfg.Logger
	up := cfg.Upstream

	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.SetXForwarded()
			// The otelhttp transport injects the proxy's own client span;
			// drop what the caller sent so nothing stale survives.
			pr.Out.Header.Del("traceparent")
			pr.Out.Header.Del("tracestate")
		},
		Transport: otelhttp.NewTransport(base,
			otelhttp.WithTracerProvider(cfg.TracerProvider),
			otelhttp.WithPropagators(cfg.Propagator),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
				return "proxy " + r.Method + " " + r.URL.Path
			}),
			otelhttp.WithFilter(traced),
		),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.ErrorContext(r.Context(), "upstream request failed", "method", r.Method, "path", r.URL.Path, "upstream", up.String(), "error", err.Error())
			http.Error(w, "bad gateway", http.StatusBadGateway)
		},
	}

	logged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := httpx.NewStatusWriter(w)
		rp.ServeHTTP(sw, r)
		lvl := slog.LevelInfo
		if sw.Status >= 500 {
			lvl = slog.LevelWarn
		}
		log.Log(r.Context(), lvl, "proxied request", "method", r.Method, "path", r.URL.RequestURI(), "status", sw.Status, "duration_ms", time.Since(start).Milliseconds())
	})

	return otelhttp.NewHandler(logged, "go-proxy",
		otelhttp.WithTracerProvider(cfg.TracerProvider),
		otelhttp.WithPropagators(cfg.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return r.Method + " " + r.URL.Path
		}),
		otelhttp.WithFilter(traced),
	)
}

// traced is false for health checks: they are proxied but not traced.
func traced(r *http.Request) bool { return r.URL.Path != "/healthz" }
