#!/usr/bin/env bash
# A clinvk cluster on this machine: 2 API nodes and 2 worker nodes sharing the local Redis and
# PostgreSQL (docs/deployment.md, "Cluster"). Each node has its own CLINVK_HOME and node id, as
# separate machines would; the cluster gets its own Redis key prefix and PostgreSQL schema, which are
# dropped again when it stops (unless --keep).
#
# Usage: scripts/cluster-demo.sh [--fake] [--port <n>] [--dir <dir>] [--keep] [--smoke]
#   --fake        run the fake CLIs of test/fixtures/bin instead of the real claude/codex/gemini on PATH
#   --port <n>    API nodes on <n> and <n>+1, workers on <n>+10 and <n>+11 (default 8080)
#   --dir <dir>   configuration, homes, logs and workdir here (default: a fresh directory under /tmp)
#   --keep        leave the directory, the Redis keys and the PostgreSQL schema behind at the end
#   --smoke       send one prompt and its continuation through different API nodes, print them, stop
# Redis and PostgreSQL: CLINVK_REDIS_URL (default redis://127.0.0.1:6379) and CLINVK_POSTGRES_URL
# (default postgres://postgres@127.0.0.1:5432/test). Needs a built dist/ (make cluster-demo builds).
# Ctrl-C stops everything: API nodes first, then the workers (they drain their runs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FAKE=0
PORT=8080
DIR=""
KEEP=0
SMOKE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --fake) FAKE=1 ;;
    --port) PORT=${2:?--port needs a number}; shift ;;
    --port=*) PORT=${1#*=} ;;
    --dir) DIR=${2:?--dir needs a directory}; shift ;;
    --dir=*) DIR=${1#*=} ;;
    --keep) KEEP=1 ;;
    --smoke) SMOKE=1 ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cluster-demo: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$PORT" in '' | *[!0-9]*) echo "cluster-demo: --port must be a number" >&2; exit 2 ;; esac

REDIS_URL=${CLINVK_REDIS_URL:-redis://127.0.0.1:6379}
PG_URL=${CLINVK_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
[ -f "$ROOT/dist/src/cli/main.js" ] || { echo "cluster-demo: dist/ is missing: run 'make build' (or make cluster-demo)" >&2; exit 1; }

# Small jobs done in Node with the project's own packages (ioredis, pg): checks and clean-up.
nodejs() { (cd "$ROOT" && node -e "$1" "${@:2}"); }
nodejs '
  const { Redis } = require("ioredis"); const { Client } = require("pg");
  const [redisUrl, pgUrl] = process.argv.slice(1);
  (async () => {
    const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try { await r.connect(); await r.ping(); } catch (e) { throw new Error(`Redis at ${redisUrl}: ${e.message} (start it: scripts/services.sh, or set CLINVK_REDIS_URL)`); }
    const policy = (await r.config("GET", "maxmemory-policy"))[1];
    if (policy !== "noeviction") console.error(`warning: Redis maxmemory-policy is ${policy}; a cluster needs noeviction`);
    r.disconnect();
    const c = new Client({ connectionString: pgUrl, connectionTimeoutMillis: 3000 });
    try { await c.connect(); await c.end(); } catch (e) { throw new Error(`PostgreSQL at ${pgUrl}: ${e.message} (start it: scripts/services.sh, or set CLINVK_POSTGRES_URL)`); }
  })().catch((e) => { console.error(`cluster-demo: ${e.message}`); process.exit(1); });
' "$REDIS_URL" "$PG_URL"

SUFFIX=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
PREFIX="clinvk-demo-$SUFFIX"
SCHEMA="clinvk_demo_$SUFFIX"
OWN_DIR=0
if [ -z "$DIR" ]; then
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/clinvk-cluster-demo.XXXXXX")
  OWN_DIR=1
fi
mkdir -p "$DIR/work"
DIR=$(cd "$DIR" && pwd -P)

# One configuration for every node; the role and the node id come from the environment.
{
  echo "server:"
  echo "  host: 127.0.0.1"
  echo "  default_workdir: $DIR/work"
  echo "  log_level: warn"
  echo "cluster:"
  echo "  enabled: true"
  echo "  key_prefix: $PREFIX"
  echo "  postgres_schema: $SCHEMA"
  echo "  worker_slots: 4"
  echo "  lock_secs: 10"
  echo "  lease_secs: 5"
  echo "  affinity: node"
  if [ "$FAKE" = 1 ]; then
    # each worker's fake CLIs keep their state under its own FAKE_MACHINE, as on separate machines
    echo "backends:"
    for b in claude codex gemini; do
      echo "  $b:"
      echo "    command: $ROOT/test/fixtures/bin/$b"
      echo "    env_passthrough: [FAKE_MACHINE]"
      echo "    env:"
      echo "      FAKE_CLI_LOG: $DIR/fake-cli.log"
      echo "      FAKE_CLI_STATE_DIR: $DIR/fake-state"
      echo "      FAKE_CLI_LOG_ENV: FAKE_MACHINE"
    done
  fi
} >"$DIR/config.yaml"

NAMES=(w1 w2 a1 a2)
ROLES=(worker worker api api)
PORTS=($((PORT + 10)) $((PORT + 11)) "$PORT" $((PORT + 1)))
PIDS=()

stop_all() {
  set +e
  # a second Ctrl-C while stopping kills what is left at once
  FORCE=0
  trap 'FORCE=1' INT TERM HUP
  trap - EXIT
  echo
  echo "stopping: API nodes, then workers (they finish their runs first; Ctrl-C again to kill them)…"
  local end=$((SECONDS + 45))
  stop_nodes() {
    local pid
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "$@"; do
      while kill -0 "$pid" 2>/dev/null; do
        if [ "$FORCE" = 1 ] || [ $SECONDS -ge $end ]; then kill -KILL "$pid" 2>/dev/null || true; fi
        sleep 0.1
      done
    done
  }
  # the API nodes go first so that none of them sees a worker vanish under a run
  stop_nodes ${PIDS[2]:-} ${PIDS[3]:-}
  stop_nodes ${PIDS[0]:-} ${PIDS[1]:-}
  if [ "$KEEP" = 1 ]; then
    echo "kept: $DIR, Redis keys $PREFIX:*, PostgreSQL schema $SCHEMA"
  else
    nodejs '
      const { Redis } = require("ioredis"); const { Client } = require("pg");
      const [redisUrl, pgUrl, prefix, schema] = process.argv.slice(1);
      (async () => {
        const r = new Redis(redisUrl);
        let cursor = "0";
        do {
          const [next, keys] = await r.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
          cursor = next;
          if (keys.length) await r.del(...keys);
        } while (cursor !== "0");
        r.disconnect();
        const c = new Client({ connectionString: pgUrl });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await c.end();
      })().catch((e) => console.error(`clean-up: ${e.message}`));
    ' "$REDIS_URL" "$PG_URL" "$PREFIX" "$SCHEMA"
    [ "$OWN_DIR" = 1 ] && rm -rf "$DIR"
    echo "stopped; the demo's Redis keys and PostgreSQL schema are dropped"
  fi
}
trap stop_all EXIT
trap 'exit 130' INT TERM HUP
SETSID=$(command -v setsid || true)

start_node() {
  local i=$1 id=${NAMES[$1]}
  mkdir -p "$DIR/$id/home"
  # setsid: Ctrl-C reaches this script only, which stops the nodes in order
  CLINVK_HOME="$DIR/$id/home" CLINVK_NODE_ID="$id" CLINVK_ROLE="${ROLES[$i]}" CLINVK_CLUSTER=true \
    CLINVK_REDIS_URL="$REDIS_URL" CLINVK_POSTGRES_URL="$PG_URL" CLINVK_API_KEYS="" CLINVK_CONFIG="" FAKE_MACHINE="$id" \
    $SETSID node "$ROOT/bin/clinvk.js" serve --config "$DIR/config.yaml" --port "${PORTS[$i]}" --log-format text \
    >"$DIR/$id.log" 2>&1 </dev/null &
  PIDS[$i]=$!
  disown "$!" # watched with kill -0; bash reports nothing when it is stopped
}

wait_listening() {
  local i=$1 id=${NAMES[$1]} end=$((SECONDS + 60))
  until grep -q "listening on" "$DIR/$id.log" 2>/dev/null; do
    if ! kill -0 "${PIDS[$i]}" 2>/dev/null || [ $SECONDS -ge $end ]; then
      echo "cluster-demo: node $id (${ROLES[$i]}, port ${PORTS[$i]}) did not start; its log:" >&2
      tail -n 20 "$DIR/$id.log" >&2
      exit 1
    fi
    sleep 0.1
  done
}

if [ "$FAKE" = 0 ]; then
  found=""
  for b in claude codex gemini; do command -v "$b" >/dev/null && found="$found $b"; done
  [ -n "$found" ] || echo "warning: no claude, codex or gemini on PATH: every run will fail (try --fake)" >&2
fi

echo "starting 2 workers and 2 API nodes (key prefix $PREFIX, schema $SCHEMA, files in $DIR)…"
start_node 0
start_node 1
wait_listening 0
wait_listening 1
start_node 2
start_node 3
wait_listening 2
wait_listening 3

API1="http://127.0.0.1:${PORTS[2]}"
API2="http://127.0.0.1:${PORTS[3]}"
BACKEND=claude
if [ "$FAKE" = 0 ] && [ -n "${found:-}" ]; then BACKEND=${found# }; BACKEND=${BACKEND%% *}; fi

cat <<EOF

clinvk cluster is up ($([ "$FAKE" = 1 ] && echo "fake CLIs from test/fixtures/bin" || echo "CLIs on PATH"))
  API node a1      $API1
  API node a2      $API2
  worker w1        http://127.0.0.1:${PORTS[0]}   (/health and /metrics only)
  worker w2        http://127.0.0.1:${PORTS[1]}
  Redis            $REDIS_URL  (keys $PREFIX:*)
  PostgreSQL       $PG_URL  (schema $SCHEMA)
  logs             $DIR/{a1,a2,w1,w2}.log

Try it:
  curl -s $API1/api/v1/prompt -H 'content-type: application/json' \\
    -d '{"backend":"$BACKEND","prompt":"Say hello in five words"}'
  # continue that session through the other API node: it runs on the same worker again
  curl -s $API2/api/v1/prompt -H 'content-type: application/json' \\
    -d '{"backend":"$BACKEND","prompt":"And in French?","session_id":"<session_id from above>"}'
  curl -s $API2/api/v1/backends          # what the live workers report
  curl -s http://127.0.0.1:${PORTS[0]}/health

EOF

if [ "$SMOKE" = 1 ]; then
  nodejs '
    const [a1, a2, backend] = process.argv.slice(1);
    const post = async (url, body) => {
      const res = await fetch(`${url}/api/v1/prompt`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const j = await res.json();
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(j)}`);
      return j.data;
    };
    (async () => {
      const first = await post(a1, { backend, prompt: "Say hello in five words" });
      console.log(`a1 → session ${first.session_id}: ${JSON.stringify(first.output)}`);
      const next = await post(a2, { backend, prompt: "And in French?", session_id: first.session_id });
      console.log(`a2 → session ${next.session_id}: ${JSON.stringify(next.output)}`);
    })().catch((e) => { console.error(`smoke: ${e.message}`); process.exit(1); });
  ' "$API1" "$API2" "$BACKEND"
  if [ "$FAKE" = 1 ]; then
    echo "CLI runs per worker (fake log):"
    grep '"event":"start"' "$DIR/fake-cli.log" | grep -v '"--version"' |
      sed -n 's/.*"FAKE_MACHINE":"\([^"]*\)".*/\1/p' | sort | uniq -c
  fi
  exit 0
fi

echo "Ctrl-C stops everything."
# a node that exits by itself stops the demo
while :; do
  for i in 0 1 2 3; do
    if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
      echo "node ${NAMES[$i]} exited; its log:" >&2
      tail -n 20 "$DIR/${NAMES[$i]}.log" >&2
      exit 1
    fi
  done
  sleep 1 &
  wait $! || true
done
