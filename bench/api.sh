#!/usr/bin/env bash
# Foundation benchmark: requests/s and p50/p99 latency of an authenticated
# `GET /api/v1/chatbots/` (10 rows on the page) at 64 concurrent connections, measured by wrk
# from outside the server process, and the server's resident memory (RSS) when idle.
#
#   bench/api.sh                                          # embedded SQLite (the default)
#   POSTGRES=postgres://postgres@127.0.0.1:5432 bench/api.sh   # a fresh PostgreSQL database
#
# Needs wrk (Debian: apt-get install wrk). Knobs: DURATION (default 20s), CONNECTIONS (64),
# THREADS (wrk threads, default 2), PORT (18080).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

cargo build --release --locked -q -p openmai-server
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

db_args=()
DATABASE_URL=
if [ -n "${POSTGRES:-}" ]; then
  bench_db="openmai_bench_$$"
  psql "$POSTGRES/postgres" -qc "CREATE DATABASE $bench_db"
  DATABASE_URL="$POSTGRES/$bench_db"
  db_args=(--database-url "$DATABASE_URL")
  trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; psql "$POSTGRES/postgres" -qc "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)"; rm -rf "$work"' EXIT
fi
# The per-key limit is raised so the benchmark measures the server, not the throttle (which
# still runs on every request).
OPENMAI_RATE_LIMIT_PER_MINUTE=1000000000 OPENMAI_LOG=warn \
  ./target/release/openmai serve --bind "127.0.0.1:$PORT" --data-dir "$work/data" "${db_args[@]}" \
  >"$work/stdout" 2>"$work/stderr" &
pid=$!
for _ in $(seq 1 200); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done
key=$(awk '/^  API key/ {print $3}' "$work/stdout")
[ -n "$key" ] || { echo "no API key printed (is the database empty?)" >&2; cat "$work/stderr" >&2; exit 1; }
base="http://127.0.0.1:$PORT/api/v1"
auth="Authorization: Api-Key $key"

settings=$(curl -fs -H "$auth" "$base/chatbot-settings/")
llm=$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["llms"][0]["id"])' <<<"$settings")
rag=$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])' <<<"$settings")
for i in $(seq 1 12); do
  curl -fs -o /dev/null -H "$auth" -H 'Content-Type: application/json' \
    -d "{\"name\":\"客服助理 $i\",\"largeLanguageModel\":\"$llm\",\"rag\":\"$rag\",\"instructions\":\"Answer from the handbook.\"}" \
    "$base/chatbots/"
done
rows=$(curl -fs -H "$auth" "$base/chatbots/" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["results"]), d["count"])')

rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status"; }
idle_before=$(rss)

echo "== wrk -t$THREADS -c$CONNECTIONS -d$DURATION GET /api/v1/chatbots/ (rows on page, total: $rows)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "$auth" "$base/chatbots/" | tee "$work/wrk.txt"
peak=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$pid/status")
idle_after=$(rss)

requests=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
p50=$(awk '$1=="50%" {print $2}' "$work/wrk.txt")
p99=$(awk '$1=="99%" {print $2}' "$work/wrk.txt")
errors=$(grep -E "Non-2xx|Socket errors" "$work/wrk.txt" || true)
echo
echo "store:              $([ -n "$DATABASE_URL" ] && echo postgres || echo 'sqlite (embedded)')"
echo "requests/s:         $requests   (target >= 20000)"
echo "latency p50 / p99:  $p50 / $p99   (target p99 < 10ms)"
echo "idle RSS:           ${idle_before} MiB after start-up and seeding   (target < 50 MiB)"
echo "RSS after the load: ${idle_after} MiB (peak ${peak} MiB)"
[ -z "$errors" ] || echo "wrk reported: $errors"
kill -TERM "$pid"; wait "$pid" || true
