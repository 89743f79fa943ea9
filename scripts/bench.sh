#!/usr/bin/env bash
# Runs Traceweave's end-to-end benchmarks (test/bench; figures: BENCHMARKS.md) and writes
# the raw `go test -bench` output, the machine they ran on and the pprof top
# of the 100k-log query to bench.out (or the file given as $1).
#
# Takes about 4-5 minutes on 2 cores: the 1M-record Kafka archive is produced
# once per `go test` process (two processes: the benchmarks, then the
# profiled run). Iteration counts are fixed (-benchtime=Nx) because every
# iteration of the end-to-end benchmarks waits for the fake upstreams'
# latency; more iterations only make the run longer.
#
# Usage: scripts/bench.sh [output-file]
# Env:   TRACEWEAVE_BINARY=dist/gpx_traceweave_linux_amd64 to benchmark a
#        prebuilt binary (otherwise internal/harness builds ./pkg once).
set -euo pipefail

cd "$(dirname "$0")/.."
out="${1:-bench.out}"
prof="$(mktemp -d)"
trap 'rm -rf "$prof"' EXIT

{
	echo "# traceweave benchmarks $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "# nproc: $(nproc)"
	echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "# $(go version)"
	echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out"

run() {
	echo "# go test $*" >>"$out"
	go test -count=1 -run '^$' -timeout 20m "$@" ./test/bench/ 2>&1 | tee -a "$out"
}

# End to end (in process) and the stage breakdown: 3 timed iterations each.
run -bench '^BenchmarkQueryData$|^BenchmarkMergeAndFrames$|^BenchmarkKafkaRead$|^BenchmarkNaiveConsumeGrep$|^BenchmarkLokiEarlyStart$|^BenchmarkEarlyStartQueryData$|^BenchmarkLokiParallel$|^BenchmarkSDKArrowEncode$' -benchtime=3x
# Through the built binary (peak RSS of the plugin process): 2 iterations.
run -bench '^BenchmarkBinaryQueryData$|^BenchmarkDashboardOpen$|^BenchmarkDashboardOpenWithSearch$' -benchtime=2x
echo "# load after benchmarks: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"

# Profile of the 100k-log query (1k spans) in process.
run -bench '^BenchmarkQueryData$/^spans=1000$/^logs=100000$' -benchtime=3x \
	-cpuprofile "$prof/cpu.out" -memprofile "$prof/mem.out" -o "$prof/bench.test"
{
	echo "# pprof -top -cum (CPU, traceweave packages)"
	go tool pprof -top -cum -nodecount=400 "$prof/bench.test" "$prof/cpu.out" 2>/dev/null |
		grep -E 'Duration|traceweave/pkg' | head -40
	echo "# pprof -top (alloc_space)"
	go tool pprof -sample_index=alloc_space -top -nodecount=25 "$prof/bench.test" "$prof/mem.out" 2>/dev/null | tail -n +5
	echo "# load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$out"
echo "wrote $out"
