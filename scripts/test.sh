#!/usr/bin/env bash
# The one command that runs every check of the project (README: "Test it"):
# Go vet and gofmt, the front end (typecheck, lint, jest, webpack build), the
# backend build for linux/amd64, every Go test with -race — including the
# tests that drive the built gpx_ binary over Grafana's plugin gRPC protocol —
# the demo services against real MariaDB and Redis, the real OpenTelemetry
# Collector writing the Kafka topics the plugin reads, and the compose file.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
step() { printf '\n=== %s (%ss)\n' "$1" "$SECONDS"; }

step "system packages"
bash scripts/setup.sh

step "go vet and gofmt"
unformatted=$(gofmt -l pkg internal test cmd demo Magefile.go 2>/dev/null || true)
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go vet ./...
(cd demo && go vet ./...)

step "front end: typecheck, lint, jest"
bash scripts/frontend.sh typecheck lint test:ci

step "build: front end, backend (mage build:linux), CLI"
bash scripts/build.sh

step "go test -race (plugin, with the built binary)"
bin=$(ls "$root"/dist/gpx_traceweave_linux_* | head -n 1)
TRACEWEAVE_BINARY="$bin" go test -race -count=1 ./...

step "demo services against MariaDB and Redis"
bash demo/scripts/start-test-dbs.sh
export DEMO_MYSQL_DSN='demo:demo@tcp(127.0.0.1:3306)/demo?parseTime=true'
export DEMO_REDIS_ADDR='127.0.0.1:6379'
(cd demo && go test -race -count=1 ./...)

step "real OpenTelemetry Collector to the plugin (test/collector)"
TRACEWEAVE_BINARY="$bin" bash scripts/collector-test.sh

step "docker-compose.yaml (offline validation)"
bash deploy/validate-compose.sh

step "done"
