#!/usr/bin/env bash
# Start throwaway MariaDB and Redis servers on loopback for the demo's
# integration tests (go-api against real databases).
#
# Prerequisite (Debian 12):  apt-get install -y mariadb-server redis-server
# Run as root (CI) or as a user that may run mariadbd/redis-server.
#
# Idempotent: a second run finds the servers answering and only re-applies
# the database, user and schema (all idempotent). It exports nothing; after it
#   export DEMO_MYSQL_DSN='demo:demo@tcp(127.0.0.1:3306)/demo?parseTime=true'
#   export DEMO_REDIS_ADDR='127.0.0.1:6379'
# (with the ports below if overridden).
#
# Env (all optional):
#   DEMO_DB_DIR      state dir (datadir, sockets, logs)  default /tmp/traceweave-demo-dbs
#   DEMO_MYSQL_PORT  MariaDB TCP port on 127.0.0.1         default 3306
#   DEMO_REDIS_PORT  Redis TCP port on 127.0.0.1           default 6379
#   DEMO_STOP=1      stop the servers this script started, then exit
set -euo pipefail

DIR=${DEMO_DB_DIR:-/tmp/traceweave-demo-dbs}
MYSQL_PORT=${DEMO_MYSQL_PORT:-3306}
REDIS_PORT=${DEMO_REDIS_PORT:-6379}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
INIT_SQL="$HERE/../sql/init.sql"

MY_DATA="$DIR/mysql-data"
MY_SOCK="$DIR/mysqld.sock"
MY_PID="$DIR/mysqld.pid"
MY_LOG="$DIR/mysqld.log"
RD_DIR="$DIR/redis"
RD_PID="$DIR/redis.pid"
RD_LOG="$DIR/redis.log"

log() { echo "start-test-dbs: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

find_bin() { # first of the names found on PATH or in sbin dirs
  local n
  for n in "$@"; do
    if command -v "$n" >/dev/null 2>&1; then command -v "$n"; return 0; fi
    for d in /usr/sbin /usr/local/sbin /sbin; do
      if [ -x "$d/$n" ]; then echo "$d/$n"; return 0; fi
    done
  done
  return 1
}

MARIADBD=$(find_bin mariadbd mysqld) || die "mariadbd not found: apt-get install -y mariadb-server"
INSTALL_DB=$(find_bin mariadb-install-db mysql_install_db) || die "mariadb-install-db not found: apt-get install -y mariadb-server"
MYSQL=$(find_bin mariadb mysql) || die "mariadb client not found: apt-get install -y mariadb-client"
MYADMIN=$(find_bin mariadb-admin mysqladmin) || die "mariadb-admin not found"
REDIS_SERVER=$(find_bin redis-server) || die "redis-server not found: apt-get install -y redis-server"
REDIS_CLI=$(find_bin redis-cli) || die "redis-cli not found: apt-get install -y redis-tools"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [ "${DEMO_STOP:-}" = 1 ]; then
  if alive "$RD_PID"; then kill "$(cat "$RD_PID")" && log "redis stopped"; fi
  if alive "$MY_PID"; then kill "$(cat "$MY_PID")" && log "mariadb stopped"; fi
  exit 0
fi

mkdir -p "$DIR" "$RD_DIR"
chmod 755 "$DIR"

# ---------------------------------------------------------------- Redis
redis_up() { [ "$("$REDIS_CLI" -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

if redis_up; then
  log "redis already answering on 127.0.0.1:$REDIS_PORT"
else
  log "starting redis-server on 127.0.0.1:$REDIS_PORT"
  "$REDIS_SERVER" --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
    --pidfile "$RD_PID" --logfile "$RD_LOG" --dir "$RD_DIR" \
    --save '' --appendonly no --protected-mode yes
  for _ in $(seq 1 100); do redis_up && break; sleep 0.1; done
  redis_up || { tail -20 "$RD_LOG" >&2 || true; die "redis did not come up"; }
fi

# -------------------------------------------------------------- MariaDB
# admin: run SQL as the server's root over its unix socket.
ADMIN_SOCK=""
mysql_tcp_used() { (exec 3<>"/dev/tcp/127.0.0.1/$MYSQL_PORT") 2>/dev/null; }
sock_up() { "$MYADMIN" --no-defaults --socket="$1" -uroot ping >/dev/null 2>&1; }

if alive "$MY_PID" && sock_up "$MY_SOCK"; then
  log "mariadb (ours) already running on 127.0.0.1:$MYSQL_PORT"
  ADMIN_SOCK=$MY_SOCK
elif mysql_tcp_used; then
  # Something else holds the port, e.g. the distribution's own service
  # started by apt. Use it if we can administer it through its socket.
  for s in /run/mysqld/mysqld.sock /var/run/mysqld/mysqld.sock /tmp/mysql.sock; do
    if [ -S "$s" ] && sock_up "$s"; then ADMIN_SOCK=$s; break; fi
  done
  [ -n "$ADMIN_SOCK" ] || die "port $MYSQL_PORT is in use by a server this script cannot administer; set DEMO_MYSQL_PORT to a free port"
  log "reusing the MariaDB/MySQL server already on port $MYSQL_PORT (admin socket $ADMIN_SOCK)"
else
  if [ ! -d "$MY_DATA/mysql" ]; then
    log "initialising datadir $MY_DATA"
    rm -rf "$MY_DATA"
    mkdir -p "$MY_DATA"
    "$INSTALL_DB" --no-defaults --user="$(id -un)" --datadir="$MY_DATA" \
      --auth-root-authentication-method=socket --skip-test-db >"$DIR/install-db.log" 2>&1 \
      || { tail -30 "$DIR/install-db.log" >&2; die "mariadb-install-db failed"; }
  fi
  rm -f "$MY_SOCK"
  log "starting mariadbd on 127.0.0.1:$MYSQL_PORT"
  # setsid + nohup: the server outlives this script and its process group.
  setsid nohup "$MARIADBD" --no-defaults --user="$(id -un)" --datadir="$MY_DATA" \
    --socket="$MY_SOCK" --pid-file="$MY_PID" --port="$MYSQL_PORT" --bind-address=127.0.0.1 \
    --skip-name-resolve --skip-log-bin --performance-schema=OFF \
    --innodb-buffer-pool-size=64M --innodb-log-file-size=48M --max-connections=200 \
    --log-error="$MY_LOG" </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 300); do sock_up "$MY_SOCK" && break; sleep 0.2; done
  sock_up "$MY_SOCK" || { tail -30 "$MY_LOG" >&2 || true; die "mariadbd did not come up"; }
  ADMIN_SOCK=$MY_SOCK
fi

log "creating database demo, user demo/demo, loading $(basename "$INIT_SQL")"
"$MYSQL" --no-defaults --socket="$ADMIN_SOCK" -uroot <<'SQL'
CREATE DATABASE IF NOT EXISTS demo CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'demo'@'%' IDENTIFIED BY 'demo';
CREATE USER IF NOT EXISTS 'demo'@'localhost' IDENTIFIED BY 'demo';
CREATE USER IF NOT EXISTS 'demo'@'127.0.0.1' IDENTIFIED BY 'demo';
GRANT ALL PRIVILEGES ON demo.* TO 'demo'@'%';
GRANT ALL PRIVILEGES ON demo.* TO 'demo'@'localhost';
GRANT ALL PRIVILEGES ON demo.* TO 'demo'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
"$MYSQL" --no-defaults --socket="$ADMIN_SOCK" -uroot demo <"$INIT_SQL"

# Final check over TCP with the credentials the tests use.
"$MYSQL" --no-defaults --protocol=TCP -h127.0.0.1 -P"$MYSQL_PORT" -udemo -pdemo demo \
  -e 'SELECT COUNT(*) AS users FROM users' >/dev/null \
  || die "cannot log in as demo/demo over TCP on port $MYSQL_PORT"

log "ready:"
log "  DEMO_MYSQL_DSN='demo:demo@tcp(127.0.0.1:$MYSQL_PORT)/demo?parseTime=true'"
log "  DEMO_REDIS_ADDR='127.0.0.1:$REDIS_PORT'"
