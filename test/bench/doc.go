// Package bench holds Traceweave's end-to-end Go benchmarks (figures and
// commands: BENCHMARKS.md, "End to end"). They
// drive the plugin as Grafana does (plugin.NewDatasource + QueryData, and the
// built gpx_traceweave binary through internal/harness) against in-process
// upstreams: an httptest Tempo serving v2 protobuf traces built with pdata, an
// httptest Loki serving categorize-labels query_range pages, each with a fixed
// latency, and a kfake Kafka cluster holding one million log records over
// three topics (otlp_proto keyed by trace ID, json, raw).
//
// Everything lives in _test.go files: the package exists to be run with
// `go test -bench`, see scripts/bench.sh. This file only documents it.
package bench
