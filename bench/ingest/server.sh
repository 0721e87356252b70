#!/usr/bin/env bash
# End-to-end ingestion through a running server: `openmai kb ingest` uploads every file of the
# corpus over HTTP (presigned POST), the server's workers parse each one in a sandboxed
# `openmai ingest-worker` process, chunk it, store the chunks and index them (BM25, keyword-only: no
# embedding provider). Reports wall time until every file is done or failed, MB/s, PDF
# pages/s, the peak resident memory of the server plus its parser processes (sampled
# every 0.1 s from /proc), and the CPU time of the server, its parser processes and the
# upload client.
#
#   bench/ingest/server.sh [CORPUS_DIR]     # default /tmp/openmai-ingest-corpus (see run.sh)
#
# Knobs: WORKERS (server's ingest_workers, default 2), PORT (18777), JSON=1 (a last JSON line
# for run.sh), OPENMAI_BIN (a binary built elsewhere, e.g. with frame pointers for perf;
# default: build target/release/openmai). run.sh runs this too, so all figures come from one
# run.
set -euo pipefail
cd "$(dirname "$0")/../.."

CORPUS=${1:-/tmp/openmai-ingest-corpus}
WORKERS=${WORKERS:-2}
PORT=${PORT:-18777}
export OPENMAI_INGEST_WORKERS=$WORKERS
. bench/ingest/start-server.sh

# Peak of (server + its children) RSS, and of its anonymous part (heap and stacks; the rest
# is mapped files, mostly the search index's segments, which the kernel can drop and re-read),
# sampled by one small process (a shell loop forking pgrep and awk ten times a second cost
# the run a few percent of its CPU).
peak_file="$data/peak"
python3 - "$server" "$peak_file" <<'PY' &
import os, sys, time
server, out = sys.argv[1], sys.argv[2]
def rss(pid):
    """(VmRSS, RssAnon) in KiB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(l.split(":", 1) for l in f if l.startswith(("VmRSS:", "RssAnon:")))
        return tuple(int(fields[k].split()[0]) for k in ("VmRSS", "RssAnon"))
    except (OSError, KeyError, ValueError):
        return (0, 0)
def parsers(pid):
    """The parser processes. A child that has not reached exec yet still shares the server's
    memory (posix_spawn's vfork) and shows the server's RSS as its own: not counted."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            kids = open(f"/proc/{pid}/task/{task}/children").read().split()
        except OSError:
            continue
        for kid in kids:
            try:
                if b"ingest-" in open(f"/proc/{kid}/cmdline", "rb").read():
                    found.append(kid)
            except OSError:
                pass
    return found
peak = [0, 0]
while os.path.exists(f"/proc/{server}"):
    sizes = [rss(server)] + [rss(c) for c in parsers(server)]
    now = [sum(s[0] for s in sizes), sum(s[1] for s in sizes)]
    if now[0] > peak[0] or now[1] > peak[1]:
        peak = [max(a, b) for a, b in zip(peak, now)]
        with open(out, "w") as f:
            f.write(f"{peak[0]} {peak[1]}")
    time.sleep(0.1)
PY
sampler=$!

"$bin" kb create bench >/dev/null
bytes=$(du -sbl "$CORPUS" | cut -f1)  # -l: a file linked twice counts twice
cat "$CORPUS"/* >/dev/null
start=$(date +%s.%N)
# The upload client runs on the same cores: its CPU (user, system) is reported too.
TIMEFORMAT='%U %S'
{ time "$bin" kb ingest bench "$CORPUS" 2>&3 | tail -3; } 3>&2 2>"$data/client-cpu"
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
# What the server has written to storage (the database with its log and checkpoints, the index
# and the uploads), a figure the machine's noise does not move.
written=$(awk '/^write_bytes:/ {printf "%.0f", $2 / 1048576}' "/proc/$server/io")
# CPU seconds (user, system) of the server and of its parser processes.
# Parser processes live on between files, so the ones still running are added to the reaped.
cpu=$(python3 - "$server" <<'PY'
import os, sys
server = sys.argv[1]
def times(pid):
    """(utime, stime, cutime, cstime) in clock ticks."""
    return [int(v) for v in open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[11:15]]
user, system, parsers_user, parsers_system = times(server)
for task in os.listdir(f"/proc/{server}/task"):
    for kid in open(f"/proc/{server}/task/{task}/children").read().split():
        try:
            if b"ingest-" in open(f"/proc/{kid}/cmdline", "rb").read():
                kid_user, kid_system, _, _ = times(kid)
                parsers_user, parsers_system = parsers_user + kid_user, parsers_system + kid_system
        except OSError:
            pass
tick = os.sysconf("SC_CLK_TCK")
print(" ".join(f"{v / tick:.1f}" for v in (user, system, parsers_user, parsers_system)))
PY
)
"$bin" kb search bench "旅客退票手續費" --limit 3 | head -8
# What the ingested corpus takes on disk: the search index, the database (the files' text and
# chunks, WAL included) and the uploaded files.
echo "disk: index $(du -sm "$data/index" | cut -f1) MiB, database $(du -smc "$data"/*.db* | tail -1 | cut -f1) MiB, uploads $(du -sm "$data/blobs" | cut -f1) MiB; the server wrote $written MiB"
# The summary, then (with JSON=1) one JSON line for run.sh's table.
python3 - "$start" "$end" "$bytes" "$pages" $(cat "$peak_file") "$hwm" "$WORKERS" $cpu $(cat "$data/client-cpu") <<'PY'
import json, os, sys
start, end, size, pages, peak_kib, anon_kib, hwm_kib, workers, *cpu = sys.argv[1:]
user, system, parsers_user, parsers_system, client_user, client_system = map(float, cpu)
wall = float(end) - float(start)
peak = max(int(peak_kib), int(hwm_kib)) / 1024
print(f"workers {workers}: {int(size)/1e6:.1f} MB in {wall:.1f} s = {int(size)/1e6/wall:.1f} MB/s, "
      f"{int(pages)/wall:.0f} PDF pages/s; peak RSS {peak:.0f} MiB (server VmHWM "
      f"{int(hwm_kib)/1024:.0f} MiB; server + parser processes sampled {int(peak_kib)/1024:.0f} MiB, "
      f"of it anonymous at most {int(anon_kib)/1024:.0f} MiB)")
print(f"CPU: server {user:.1f} s user + {system:.1f} s system; parser processes "
      f"{parsers_user:.1f} s user + {parsers_system:.1f} s system; upload client "
      f"{client_user:.1f} s user + {client_system:.1f} s system")
if os.environ.get("JSON"):
    print(json.dumps({"tool": "openmai serve", "workers": int(workers), "wall_s": wall,
                      "mb_per_s": int(size) / 1e6 / wall, "pdf_pages_per_s": int(pages) / wall,
                      "peak_rss_mib": peak, "peak_anon_mib": int(anon_kib) / 1024, "cpu_s": user + system + parsers_user + parsers_system}))
PY
