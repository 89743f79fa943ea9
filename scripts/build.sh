#!/usr/bin/env bash
# Builds what Grafana loads and the CLI, for this machine's Linux platform:
#   dist/            front end (module.js, plugin.json, …) and dist/gpx_traceweave_linux_<arch>
#   bin/traceweave   the terminal CLI
# The front end first: webpack cleans dist/ before writing it.
# All six release platforms: go run github.com/magefile/mage@v1.17.2 -v
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/frontend.sh build
case "$(uname -m)" in
  aarch64 | arm64) target=build:linuxARM64 ;;
  *) target=build:linux ;;
esac
go run github.com/magefile/mage@v1.17.2 -v "$target"
go build -o bin/traceweave ./cmd/traceweave
ls -l dist/gpx_traceweave_* dist/module.js dist/plugin.json bin/traceweave
