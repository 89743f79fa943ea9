// Command loadgen sends steady traced traffic to go-proxy.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/traceweave/traceweave/demo/internal/loadgen"
	"github.com/traceweave/traceweave/demo/internal/otelsetup"
	"github.com/traceweave/traceweave/demo/internal/svc"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := svc.SignalContext()
	defer stop()

	tel, err := otelsetup.Init(ctx, "loadgen")
	if err != nil {
		return err
	}
	defer svc.Flush(tel.Shutdown)

	log := otelsetup.NewLogger(otelsetup.LogOptions{
		Service:        "loadgen",
		LoggerProvider: tel.LoggerProvider,
		JSON:           os.Stdout,
	})
	slog.SetDefault(log)

	maxReq, _ := strconv.Atoi(os.Getenv("MAX_REQUESTS"))
	cfg := loadgen.Config{
		Target:         svc.Env("TARGET_URL", "http://go-proxy:8080"),
		Rate:           svc.EnvFloat("RATE", 5),
		MaxRequests:    maxReq,
		TracerProvider: tel.TracerProvider,
		Propagator:     tel.Propagator,
		Logger:         log,
	}
	log.Info("starting load", "target", cfg.Target, "rate", cfg.Rate, "max_requests", cfg.MaxRequests)
	n := loadgen.Run(ctx, cfg, nil)
	log.Info("stopped", "requests_sent", n)
	return nil
}
