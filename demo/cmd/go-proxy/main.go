// Command go-proxy is the demo's reverse proxy in front of go-api.
package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"

	"github.com/traceweave/traceweave/demo/internal/otelsetup"
	"github.com/traceweave/traceweave/demo/internal/proxy"
	"github.com/traceweave/traceweave/demo/internal/svc"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "go-proxy:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := svc.SignalContext()
	defer stop()

	upstream, err := url.Parse(svc.Env("UPSTREAM_URL", "http://go-api:8081"))
	if err != nil || upstream.Scheme == "" || upstream.Host == "" {
		return fmt.Errorf("invalid UPSTREAM_URL %q", os.Getenv("UPSTREAM_URL"))
	}

	tel, err := otelsetup.Init(ctx, "go-proxy")
	if err != nil {
		return err
	}
	defer svc.Flush(tel.Shutdown)

	log := otelsetup.NewLogger(otelsetup.LogOptions{
		Service:        "go-proxy",
		LoggerProvider: tel.LoggerProvider,
		JSON:           os.Stdout,
	})
	slog.SetDefault(log)

	h := proxy.New(proxy.Config{
		Upstream:       upstream,
		TracerProvider: tel.TracerProvider,
		Propagator:     tel.Propagator,
		Logger:         log,
	})
	return svc.Serve(ctx, svc.Env("LISTEN_ADDR", ":8080"), h, log.With(slog.String("component", "server"), slog.String("upstream", upstream.String())))
}
