#!/usr/bin/env bash
# Installs what the test suite needs beyond Go and a bootstrap Node with npm
# (scripts/frontend.sh installs the front end's Node 22 itself) on a fresh Debian
# machine: MariaDB and Redis (the demo services' integration tests) and
# Debian's docker-compose (offline validation of docker-compose.yaml).
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)

if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
