// Package otelsetuptest gives tests in-memory telemetry: a span recorder, a
// log record capture behind the real sdk/log pipeline, and thread-safe
// buffers for the JSON and syslog outputs of otelsetup.NewLogger.
package otelsetuptest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/traceweave/traceweave/demo/internal/otelsetup"
)

// LogCapture is an sdk/log Exporter keeping every exported record.
type LogCapture struct {
	mu   sync.Mutex
	recs []sdklog.Record
}

// Export implements sdklog.Exporter.
func (c *LogCapture) Export(_ context.Context, rs []sdklog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rs {
		c.recs = append(c.recs, r.Clone())
	}
	return nil
}

// Shutdown implements sdklog.Exporter.
func (c *LogCapture) Shutdown(context.Context) error { return nil }

// ForceFlush implements sdklog.Exporter.
func (c *LogCapture) ForceFlush(context.Context) error { return nil }

// Records returns a copy of the captured records.
func (c *LogCapture) Records() []sdklog.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sdklog.Record(nil), c.recs...)
}

// Buffer is a bytes.Buffer safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// Lines returns the non-empty lines written so far.
func (b *Buffer) Lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.b.String(), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Service is one service's in-memory telemetry.
type Service struct {
	Name           string
	Spans          *tracetest.SpanRecorder
	TracerProvider *sdktrace.TracerProvider
	Logs           *LogCapture
	LoggerProvider *sdklog.LoggerProvider
	JSON, Syslog   *Buffer
	Logger         *slog.Logger
}

// NewService builds in-memory telemetry for a service and its logger
// (OTLP bridge, JSON and syslog outputs, as in production). Providers are
// shut down at test cleanup.
func NewService(t testing.TB, name string) *Service {
	t.Helper()
	res := resource.NewSchemaless(semconv.ServiceName(name))
	s := &Service{
		Name:   name,
		Spans:  tracetest.NewSpanRecorder(),
		Logs:   &LogCapture{},
		JSON:   &Buffer{},
		Syslog: &Buffer{},
	}
	s.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSpanProcessor(s.Spans))
	s.LoggerProvider = sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewSimpleProcessor(s.Logs)))
	s.Logger = otelsetup.NewLogger(otelsetup.LogOptions{
		Service:        name,
		LoggerProvider: s.LoggerProvider,
		JSON:           s.JSON,
		Syslog:         s.Syslog,
		Host:           "testhost",
		PID:            4242,
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.TracerProvider.Shutdown(ctx)
		_ = s.LoggerProvider.Shutdown(ctx)
	})
	return s
}

// WaitSpans waits until at least n spans have ended (server spans end just
// after the response is written) and returns the ended spans.
func (s *Service) WaitSpans(t testing.TB, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := s.Spans.Ended()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			for _, sp := range got {
				t.Logf("%s span: %s", s.Name, sp.Name())
			}
			t.Fatalf("%s: %d spans ended, want at least %d", s.Name, len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
