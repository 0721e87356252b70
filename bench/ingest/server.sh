#!/usr/bin/env bash
# End-to-end ingestion through a running server: `openmai kb ingest` uploads every file of the
# corpus over HTTP (presigned POST), the server's workers parse each one in a sandboxed
# `openmai parse` process, chunk it, store the chunks and index them (BM25, keyword-only: no
# embedding provider). Reports wall time until every file is done or failed, MB/s, PDF
# pages/s, and the peak resident memory of the server plus its parser processes (sampled
# every 0.1 s from /proc).
#
#   bench/ingest/server.sh [CORPUS_DIR]     # default /tmp/openmai-ingest-corpus (see run.sh)
#
# Knobs: WORKERS (server's ingest_workers, default 2), PORT (18777), JSON=1 (a last JSON line
# for run.sh). run.sh runs this too, so all figures come from one run.
set -euo pipefail
cd "$(dirname "$0")/../.."

CORPUS=${1:-/tmp/openmai-ingest-corpus}
WORKERS=${WORKERS:-2}
PORT=${PORT:-18777}
[ -d "$CORPUS" ] || { echo "no corpus at $CORPUS: run bench/ingest/run.sh first" >&2; exit 1; }

cargo build --release --locked -q --bin openmai
bin=$PWD/target/release/openmai
data=$(mktemp -d)
export OPENMAI_ADMIN_EMAIL=bench@example.com OPENMAI_ADMIN_PASSWORD=bench-password-1234
export OPENMAI_INGEST_WORKERS=$WORKERS OPENMAI_LOG=warn
"$bin" serve --bind "127.0.0.1:$PORT" --data-dir "$data" >"$data/serve.log" 2>&1 &
server=$!
sampler=
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
  kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
export OPENMAI_URL="http://127.0.0.1:$PORT"
OPENMAI_API_KEY=$("$bin" api-key create --email "$OPENMAI_ADMIN_EMAIL" --data-dir "$data" | tail -1)
export OPENMAI_API_KEY

# Peak of (server + its children) RSS, sampled.
peak_file="$data/peak"
(
  peak=0
  while kill -0 "$server" 2>/dev/null; do
    total=0
    for pid in "$server" $(pgrep -P "$server" || true); do
      kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      total=$((total + ${kb:-0}))
    done
    [ "$total" -gt "$peak" ] && peak=$total && echo "$peak" >"$peak_file"
    sleep 0.1
  done
) &
sampler=$!

"$bin" kb create bench >/dev/null
bytes=$(du -sb "$CORPUS" | cut -f1)
cat "$CORPUS"/* >/dev/null
start=$(date +%s.%N)
"$bin" kb ingest bench "$CORPUS" | tail -3
end=$(date +%s.%N)
pages=$(python3 - "$CORPUS" <<'PY'
import os, re, sys
total = 0
for name in os.listdir(sys.argv[1]):
    if name.endswith(".pdf"):
        data = open(os.path.join(sys.argv[1], name), "rb").read()
        total += len(re.findall(rb"/Type\s*/Page[^s]", data))
print(total)
PY
)
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$server/status")
"$bin" kb search bench "旅客退票手續費" --limit 3 | head -8
# The summary, then (with JSON=1) one JSON line for run.sh's table.
python3 - "$start" "$end" "$bytes" "$pages" "$(cat "$peak_file")" "$hwm" "$WORKERS" <<'PY'
import json, os, sys
start, end, size, pages, peak_kib, hwm_kib, workers = sys.argv[1:]
wall = float(end) - float(start)
peak = max(int(peak_kib), int(hwm_kib)) / 1024
print(f"workers {workers}: {int(size)/1e6:.1f} MB in {wall:.1f} s = {int(size)/1e6/wall:.1f} MB/s, "
      f"{int(pages)/wall:.0f} PDF pages/s; peak RSS {peak:.0f} MiB (server VmHWM "
      f"{int(hwm_kib)/1024:.0f} MiB; server + parser processes sampled {int(peak_kib)/1024:.0f} MiB)")
if os.environ.get("JSON"):
    print(json.dumps({"tool": "openmai serve", "workers": int(workers), "wall_s": wall,
                      "mb_per_s": int(size) / 1e6 / wall, "pdf_pages_per_s": int(pages) / wall,
                      "peak_rss_mib": peak}))
PY
