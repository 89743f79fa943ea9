// Command go-api is the demo's Go API tier (see demo/README.md).
package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/traceweave/traceweave/demo/internal/api"
	"github.com/traceweave/traceweave/demo/internal/otelsetup"
	"github.com/traceweave/traceweave/demo/internal/svc"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "go-api:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := svc.SignalContext()
	defer stop()

	tel, err := otelsetup.Init(ctx, "go-api")
	if err != nil {
		return err
	}
	defer svc.Flush(tel.Shutdown)

	var syslogW io.Writer
	path := svc.Env("SYSLOG_FILE", "/var/log/demo/syslog")
	if f, err := otelsetup.OpenSyslogFile(path); err != nil {
		fmt.Fprintf(os.Stderr, "go-api: syslog file disabled: %v\n", err)
	} else {
		defer func() { _ = f.Close() }()
		syslogW = f
	}
	log := otelsetup.NewLogger(otelsetup.LogOptions{
		Service:        "go-api",
		LoggerProvider: tel.LoggerProvider,
		JSON:           os.Stdout,
		Syslog:         syslogW,
	})
	slog.SetDefault(log)

	db, err := api.OpenDB(svc.Env("MYSQL_DSN", "demo:demo@tcp(mysql:3306)/demo?parseTime=true"), tel.TracerProvider)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	rdb, err := api.OpenRedis(svc.Env("REDIS_ADDR", "redis:6379"), tel.TracerProvider)
	if err != nil {
		return err
	}
	defer func() { _ = rdb.Close() }()

	h := api.New(api.Config{
		DB:             db,
		Redis:          rdb,
		RailsURL:       svc.Env("RAILS_URL", "http://rails-api:3000"),
		TracerProvider: tel.TracerProvider,
		Propagator:     tel.Propagator,
		Logger:         log,
		SlowQuery:      time.Duration(svc.EnvFloat("SLOW_QUERY_SECONDS", api.DefaultSlowQuery.Seconds()) * float64(time.Second)),
		FlakyTimeout:   time.Duration(svc.EnvFloat("FLAKY_TIMEOUT_MS", float64(api.DefaultFlakyTimeout.Milliseconds())) * float64(time.Millisecond)),
	})
	return svc.Serve(ctx, svc.Env("LISTEN_ADDR", ":8081"), h, log.With(slog.String("component", "server")))
}
