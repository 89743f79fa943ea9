// Package otelsetup is the one place where the demo's Go services set up
// OpenTelemetry: resource, OTLP/HTTP trace and log exporters, the explicit
// W3C propagator and graceful shutdown.
package otelsetup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/log/global"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// DefaultEndpoint is used when neither OTEL_EXPORTER_OTLP_ENDPOINT nor a
// signal-specific endpoint variable is set: the collector of the compose stack.
const DefaultEndpoint = "http://otel-collector:4318"

// NewPropagator returns the propagator every demo service uses, set
// explicitly on servers and clients: W3C trace context plus baggage.
func NewPropagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// Telemetry holds the providers of one service.
type Telemetry struct {
	Resource       *resource.Resource
	TracerProvider *sdktrace.TracerProvider
	LoggerProvider *sdklog.LoggerProvider
	Propagator     propagation.TextMapPropagator
}

// NewResource builds the service resource: service.name (defaultName unless
// OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES say otherwise), telemetry.sdk.*
// and host.name.
func NewResource(ctx context.Context, defaultName string) (*resource.Resource, error) {
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(defaultName)),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithFromEnv(), // last: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) && !errors.Is(err, resource.ErrSchemaURLConflict) {
		return nil, err
	}
	if res == nil {
		res = resource.NewSchemaless(semconv.ServiceName(defaultName))
	}
	return res, nil
}

// endpointSet reports whether the standard env configures an endpoint for the
// signal ("TRACES" or "LOGS"); then the exporter reads it itself.
func endpointSet(signal string) bool {
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" ||
		os.Getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") != ""
}

// Init creates OTLP/HTTP exporters for traces and logs (configured by the
// standard OTEL_EXPORTER_OTLP_* env, defaulting to DefaultEndpoint), batch
// processors, and installs the providers and the propagator globally.
func Init(ctx context.Context, serviceName string) (*Telemetry, error) {
	res, err := NewResource(ctx, serviceName)
	if err != nil {
		return nil, fmt.Errorf("otel resource: %w", err)
	}

	var traceOpts []otlptracehttp.Option
	if !endpointSet("TRACES") {
		traceOpts = append(traceOpts, otlptracehttp.WithEndpointURL(strings.TrimRight(DefaultEndpoint, "/")+"/v1/traces"))
	}
	traceExp, err := otlptracehttp.New(ctx, traceOpts...)
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter: %w", err)
	}

	var logOpts []otlploghttp.Option
	if !endpointSet("LOGS") {
		logOpts = append(logOpts, otlploghttp.WithEndpointURL(strings.TrimRight(DefaultEndpoint, "/")+"/v1/logs"))
	}
	logExp, err := otlploghttp.New(ctx, logOpts...)
	if err != nil {
		_ = traceExp.Shutdown(ctx)
		return nil, fmt.Errorf("otlp log exporter: %w", err)
	}

	t := &Telemetry{
		Resource: res,
		TracerProvider: sdktrace.NewTracerProvider(
			sdktrace.WithResource(res),
			sdktrace.WithBatcher(traceExp),
		),
		LoggerProvider: sdklog.NewLoggerProvider(
			sdklog.WithResource(res),
			sdklog.WithProcessor(sdklog.NewBatchProcessor(logExp)),
		),
		Propagator: NewPropagator(),
	}
	otel.SetTracerProvider(t.TracerProvider)
	otel.SetTextMapPropagator(t.Propagator)
	global.SetLoggerProvider(t.LoggerProvider)
	return t, nil
}

// Shutdown flushes and stops both providers. Safe to call on nil.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return errors.Join(t.TracerProvider.Shutdown(ctx), t.LoggerProvider.Shutdown(ctx))
}
