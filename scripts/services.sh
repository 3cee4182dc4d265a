#!/usr/bin/env bash
# Makes sure the services the test suites need answer before jest runs (used by `make test`).
#
# PostgreSQL at CLINVK_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test):
#   1. answers → done (the database of the URL is created when missing);
#   2. a Debian cluster on the URL's port is installed but down → started (pg_ctlcluster);
#   3. PostgreSQL's binaries exist (pg_config --bindir, /usr/lib/postgresql/*/bin) → a throwaway
#      cluster with trust auth is started on the URL's port under ${TMPDIR:-/tmp}, as a non-root user;
#   4. no binaries, but root with apt-get → `apt-get install postgresql`, then 3;
#   5. otherwise one line on stderr saying what to install, and exit 1.
# Redis at CLINVK_TEST_REDIS_URL (default redis://127.0.0.1:6379), for the cluster-mode suites:
#   1. answers → done;
#   2. `redis-server` exists → started on the URL's port, keeping nothing on disk (as the machines run it);
#   3. no binary, but root with apt-get → `apt-get install redis-server`, then 2;
#   4. otherwise one line on stderr saying what to install, and exit 1.
# Tests never skip a suite because a service is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="${CLINVK_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

# 0: answers; 3: answers but the database is missing; 1: does not answer.
pg_probe() {
  node -e '
    const { Client } = require("pg");
    const c = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
    c.connect().then(() => c.query("SELECT 1")).then(() => c.end()).then(
      () => process.exit(0),
      (e) => process.exit(e && e.code === "3D000" ? 3 : 1),
    );' "$PG_URL"
}

# Creates the URL's database through the `postgres` database of the same server.
pg_create_db() {
  node -e '
    const { Client } = require("pg");
    const u = new URL(process.argv[1]);
    const db = decodeURIComponent(u.pathname.slice(1));
    u.pathname = "/postgres";
    const c = new Client({ connectionString: u.toString(), connectionTimeoutMillis: 3000 });
    c.connect()
      .then(() => c.query(`CREATE DATABASE "${db.replace(/"/g, "\"\"")}"`))
      .then(() => c.end())
      .then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });' "$PG_URL"
}

pg_ready() {
  local rc=0
  pg_probe || rc=$?
  if [ "$rc" = 3 ]; then pg_create_db && return 0; fi
  return "$rc"
}

pg_wait() {
  for _ in $(seq 1 40); do
    pg_ready && return 0
    sleep 0.25
  done
  return 1
}

pg_port() { node -e 'console.log(new URL(process.argv[1]).port || 5432)' "$PG_URL"; }

pg_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d="$(pg_config --bindir 2>/dev/null || true)"
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

# Runs a command as a non-root user when this is root (PostgreSQL refuses to run as root).
as_pg_user() {
  if [ "$(id -u)" != 0 ]; then "$@"; return; fi
  local user=postgres
  id "$user" >/dev/null 2>&1 || user=nobody
  runuser -u "$user" -- "$@"
}

pg_start_temp() {
  local bindir="$1" port dir user
  port="$(pg_port)"
  dir="${TMPDIR:-/tmp}/clinvk-test-postgres-$port"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    user=postgres
    id "$user" >/dev/null 2>&1 || user=nobody
    chown "$user" "$dir"
  fi
  chmod 700 "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg_user "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1
  fi
  as_pg_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
  echo "services: started a throwaway PostgreSQL on 127.0.0.1:$port (data in $dir/data)" >&2
}

ensure_postgres() {
  pg_ready && return 0
  local port bindir
  port="$(pg_port)"
  # 2. An installed cluster on that port that is down.
  if command -v pg_lsclusters >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null 2>&1; then
    local line
    line="$(pg_lsclusters --no-header 2>/dev/null | awk -v p="$port" '$3 == p && $4 == "down" { print $1, $2; exit }')"
    if [ -n "$line" ] && [ "$(id -u)" = 0 ]; then
      # shellcheck disable=SC2086
      pg_ctlcluster --skip-systemctl-redirect $line start >/dev/null 2>&1 || true
      pg_wait && return 0
    fi
  fi
  # 3./4. A throwaway cluster from the binaries (installed first when possible).
  if ! bindir="$(pg_bindir)" && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "services: installing postgresql with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
    bindir="$(pg_bindir)" || true
  fi
  if [ -n "${bindir:-}" ]; then
    pg_start_temp "$bindir" || true
    pg_wait && return 0
  fi
  echo "services: PostgreSQL is not reachable at $PG_URL and could not be started: install PostgreSQL 15 (apt-get install postgresql) or set CLINVK_TEST_POSTGRES_URL" >&2
  return 1
}

REDIS_URL="${CLINVK_TEST_REDIS_URL:-redis://127.0.0.1:6379}"

redis_probe() {
  node -e '
    const { Redis } = require("ioredis");
    const r = new Redis(process.argv[1], { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on("error", () => undefined);
    r.connect().then(() => r.ping()).then(() => { r.disconnect(); process.exit(0); }, () => process.exit(1));' "$REDIS_URL"
}

redis_wait() {
  for _ in $(seq 1 40); do
    redis_probe && return 0
    sleep 0.25
  done
  return 1
}

ensure_redis() {
  redis_probe && return 0
  local port
  port="$(node -e 'console.log(new URL(process.argv[1]).port || 6379)' "$REDIS_URL")"
  if ! command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "services: installing redis-server with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null
  fi
  if command -v redis-server >/dev/null 2>&1; then
    local dir="${TMPDIR:-/tmp}/clinvk-test-redis-$port"
    mkdir -p "$dir"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
      --dir "$dir" --logfile "$dir/server.log" >/dev/null
    echo "services: started redis-server on 127.0.0.1:$port" >&2
    redis_wait && return 0
  fi
  echo "services: Redis is not reachable at $REDIS_URL and could not be started: install Redis 7 (apt-get install redis-server) or set CLINVK_TEST_REDIS_URL" >&2
  return 1
}

ensure_postgres
ensure_redis
