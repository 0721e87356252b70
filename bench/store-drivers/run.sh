#!/usr/bin/env bash
# Compares sqlx-sqlite and rusqlite on the same query under wrk (64 connections).
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release -q
POOL=${POOL:-8} ./target/release/store-drivers & pid=$!
trap 'kill $pid' EXIT
for _ in $(seq 1 100); do curl -fs 127.0.0.1:18090/rusqlite >/dev/null 2>&1 && break; sleep 0.05; done
for driver in sqlx rusqlite; do
  echo "== $driver"
  wrk -t2 -c64 -d${DURATION:-10s} --latency "http://127.0.0.1:18090/$driver" | grep -E "Requests/sec|50%|99%"
done
