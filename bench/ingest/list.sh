#!/usr/bin/env bash
# What listing a knowledge base's files costs once the corpus is registered: the request
# `openmai kb ingest` repeats every 250 ms while it waits. Starts a server, ingests the corpus,
# then times 100 `GET knowledge-bases/{id}/files/?pageSize=1000` (wall time with curl, and the
# server's CPU from /proc).
#
#   bench/ingest/list.sh [CORPUS_DIR]          # default /tmp/openmai-ingest-corpus
#
# Knobs: OPENMAI_BIN (a binary built elsewhere; default: build target/release/openmai), PORT
# (18778), OPENMAI_DATABASE_URL (e.g. a fresh PostgreSQL database; default: SQLite in the
# temporary data directory).
set -euo pipefail
cd "$(dirname "$0")/../.."

CORPUS=${1:-/tmp/openmai-ingest-corpus}
PORT=${PORT:-18778}
. bench/ingest/start-server.sh
"$bin" kb create list-bench >/dev/null
"$bin" kb ingest list-bench "$CORPUS" | tail -1
auth="Authorization: Api-Key $OPENMAI_API_KEY"
kb=$(curl -fs -H "$auth" "$OPENMAI_URL/api/v1/knowledge-bases/" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["results"][0]["id"])')
files=$(ls "$CORPUS" | wc -l)
cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }  # user + system, in clock ticks
before=$(cpu)
start=$(date +%s.%N)
for _ in $(seq 1 100); do
  curl -fs -o /dev/null -H "$auth" "$OPENMAI_URL/api/v1/knowledge-bases/$kb/files/?pageSize=1000"
done
end=$(date +%s.%N)
after=$(cpu)
python3 - "$start" "$end" "$before" "$after" "$files" <<'PY'
import os, sys
start, end, before, after, files = map(float, sys.argv[1:])
tick = os.sysconf("SC_CLK_TCK")
print(f"100 lists of {files:.0f} files: {(end - start) * 10:.2f} ms each (wall, curl included), "
      f"server CPU {(after - before) / tick * 10:.2f} ms each")
PY
