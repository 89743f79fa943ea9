// Package collector holds tests only: it builds the OpenTelemetry Collector
// in-process from the contrib modules of one release (versions in go.mod and
// docs/COLLECTOR.md), loads deploy/otel-collector.yaml with it, and checks
// end to end that what the collector's kafkaexporter really writes is what
// the built Traceweave plugin reads.
//
// It is a module of its own so the plugin's go.mod never carries the
// collector's dependencies; scripts/collector-test.sh runs it in CI.
package collector
