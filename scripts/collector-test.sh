#!/usr/bin/env bash
# The real OpenTelemetry Collector against the plugin (docs/COLLECTOR.md):
# test/collector, a module of its own, builds the collector release pinned in
# docker-compose.yaml in-process, validates deploy/otel-collector.yaml with it,
# runs go-proxy -> go-api -> collector -> Kafka (kfake) and Tempo (a test
# server), and queries the built plugin binary over gRPC.
#
# Needs MariaDB and Redis on loopback (demo/scripts/start-test-dbs.sh; DSN and
# address from DEMO_MYSQL_DSN / DEMO_REDIS_ADDR, defaults 127.0.0.1:3306 and
# 127.0.0.1:6379). Uses TRACEWEAVE_BINARY when set, else builds the plugin
# into dist/ (as the e2e tests take it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bin=${TRACEWEAVE_BINARY:-}
if [ -z "$bin" ]; then
  bin=$(ls "$root"/dist/gpx_traceweave_linux_* 2>/dev/null | head -n 1 || true)
fi
if [ -z "$bin" ]; then
  bin="$root/dist/gpx_traceweave_linux_$(go env GOARCH)"
  echo "collector-test: building the plugin binary $bin"
  go build -o "$bin" ./pkg
fi

demo_bin=$(mktemp -d)
trap 'rm -rf "$demo_bin"' EXIT
(cd demo && go build -o "$demo_bin/" ./cmd/go-proxy ./cmd/go-api)

cd test/collector
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go vet ./...
TRACEWEAVE_BINARY="$bin" TRACEWEAVE_DEMO_BIN="$demo_bin" go test -count=1 ./...
