#!/bin/sh
# Validates docker-compose.yaml offline with Compose v1 (Debian's docker-compose
# 1.29.2: `apt-get install -y docker-compose`), which needs no Docker engine:
# it rejects unknown keys, bad depends_on conditions and broken interpolation.
# The file is written to be accepted by Compose v2 as well; when `docker compose`
# (v2) is on PATH it is run too. Usage: deploy/validate-compose.sh [compose-file]
# (the grafana image itself is checked by test/stack, which parses its Dockerfile).
set -eu

cd "$(dirname "$0")/.."
file="${1:-docker-compose.yaml}"

if ! command -v docker-compose >/dev/null 2>&1; then
	echo "validate-compose: docker-compose (v1) not found; install it with: apt-get install -y docker-compose" >&2
	exit 2
fi

# The optional dist/ override (deploy/README.md) is checked merged onto the file.
override=deploy/compose.dist.yaml

docker-compose -f "$file" config -q
echo "validate-compose: $(docker-compose version --short) accepts $file"
docker-compose -f "$file" -f "$override" config -q
echo "validate-compose: $(docker-compose version --short) accepts $file + $override"

if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
	docker compose -f "$file" config -q
	echo "validate-compose: $(docker compose version --short) accepts $file"
	docker compose -f "$file" -f "$override" config -q
	echo "validate-compose: $(docker compose version --short) accepts $file + $override"
fi
