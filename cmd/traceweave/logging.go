package main

import (
	"context"
	"io"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	hclog "github.com/hashicorp/go-hclog"
)

// setupLogging routes the plugin SDK's logger (and hclog's default, which
// libraries reach for) away from the terminal: the SDK logs JSON debug lines
// for Grafana on stderr, where they would bury the CLI's own messages and
// progress line. With verbose they are human-readable lines on stderr instead.
func setupLogging(verbose bool, stderr io.Writer) {
	var l hclog.Logger
	if verbose {
		l = hclog.New(&hclog.LoggerOptions{
			Name:       "traceweave",
			Level:      hclog.Debug,
			Output:     stderr,
			JSONFormat: false,
			Color:      hclog.ColorOff,
		})
	} else {
		l = hclog.NewNullLogger()
	}
	hclog.SetDefault(l)
	log.DefaultLogger = sdkLogger{l}
	// backend.Logger is a copy of log.DefaultLogger taken at package init.
	backend.Logger = log.DefaultLogger
}

// sdkLogger is the SDK's log.Logger over an hclog.Logger of our choosing
// (the SDK's own wrapper is unexported and always JSON).
type sdkLogger struct{ l hclog.Logger }

func (s sdkLogger) Debug(msg string, args ...any) { s.l.Debug(msg, args...) }
func (s sdkLogger) Info(msg string, args ...any)  { s.l.Info(msg, args...) }
func (s sdkLogger) Warn(msg string, args ...any)  { s.l.Warn(msg, args...) }
func (s sdkLogger) Error(msg string, args ...any) { s.l.Error(msg, args...) }

func (s sdkLogger) With(args ...any) log.Logger { return sdkLogger{s.l.With(args...)} }

func (s sdkLogger) FromContext(context.Context) log.Logger { return s }

func (s sdkLogger) Level() log.Level {
	switch {
	case s.l.IsTrace():
		return log.Trace
	case s.l.IsDebug():
		return log.Debug
	case s.l.IsInfo():
		return log.Info
	case s.l.IsWarn():
		return log.Warn
	case s.l.IsError():
		return log.Error
	}
	return log.NoLevel
}
