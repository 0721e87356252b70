#!/usr/bin/env bash
# Ingestion benchmark: openmai-ingest (the parsing library, in-process), the whole server
# pipeline (bench/ingest/server.sh), and a Python pipeline of the kind the peers use
# (pypdf + python-docx + LangChain's recursive splitter + jieba + rank-bm25), on the same
# generated corpus of Traditional Chinese and English PDF, DOCX and TXT files (>= 200 MB).
#
#   bench/ingest/run.sh [CORPUS_DIR]        # default /tmp/openmai-ingest-corpus
#
# The corpus is generated when the directory is missing or empty (10-20 minutes on 2 cores).
# Knobs: THREADS (default: nproc), SIZE_MB (220), VENV (/tmp/openmai-ingest-venv, created with
# the pinned PyPI packages when missing), SKIP_PYTHON=1 (Rust only), SKIP_FULL=1 (Python
# parse+split only: the full pipeline with jieba and BM25 takes about 25 minutes).
set -euo pipefail
cd "$(dirname "$0")/../.."

CORPUS=${1:-/tmp/openmai-ingest-corpus}
THREADS=${THREADS:-$(nproc)}
SIZE_MB=${SIZE_MB:-220}
VENV=${VENV:-/tmp/openmai-ingest-venv}

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q fpdf2==2.8.9 python-docx==1.2.0 pypdf==7.1.1 \
    langchain-text-splitters==1.1.3 jieba==0.42.1 rank-bm25==0.2.2
fi
if [ ! -d "$CORPUS" ] || [ -z "$(ls -A "$CORPUS" 2>/dev/null)" ]; then
  "$VENV/bin/python" bench/ingest/make_corpus.py "$CORPUS" --size-mb "$SIZE_MB"
fi

cargo build --release -q -p openmai-ingest --example ingest_bench
bench=./target/release/examples/ingest_bench
# Both tools read the corpus from the page cache.
cat "$CORPUS"/* >/dev/null
echo "machine: $(nproc) cores, $(uptime | sed 's/.*load/load/')"

results=$(mktemp)
out=$(mktemp)
trap 'rm -f "$results" "$out"' EXIT
# Each run prints its report, then one JSON line that is kept for the comparison.
run() {
  echo "== $1"
  shift
  "$@" --json >"$out"
  sed '$d' "$out"
  tail -1 "$out" >>"$results"
}

run "openmai-ingest, $THREADS threads" "$bench" "$CORPUS" --threads "$THREADS"
run "openmai-ingest, 1 thread" "$bench" "$CORPUS" --threads 1
echo "== openmai serve, end to end (upload, parse, store, BM25 index)"
JSON=1 bench/ingest/server.sh "$CORPUS" >"$out"
sed '$d' "$out"
tail -1 "$out" >>"$results"
if [ -z "${SKIP_PYTHON:-}" ]; then
  run "Python: parse + split, $THREADS processes" \
    "$VENV/bin/python" bench/ingest/python_baseline.py "$CORPUS" --workers "$THREADS" --no-index
  if [ -z "${SKIP_FULL:-}" ]; then
    run "Python: parse + split + jieba + BM25, $THREADS processes" \
      "$VENV/bin/python" bench/ingest/python_baseline.py "$CORPUS" --workers "$THREADS"
  fi
fi

python3 - "$results" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
# Each OpenMai row against the Python run doing the same work: the parsing library against
# Python's parse+split, the whole server pipeline against Python's parse+split+jieba+BM25.
python = {r["index"]: r for r in rows if r["tool"] == "python-baseline"}
print()
print("| Run | Wall (s) | MB/s | PDF pages/s | Chunks | CPU (s) | Peak RSS (MiB) | Faster than the same work in Python |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    if r["tool"] == "openmai serve":
        name, chunks, cpu, same = f"openmai serve, end to end, {r['workers']} workers", "", f"{r['cpu_s']:.1f}", python.get(True)
    elif r["tool"] == "openmai-ingest":
        name = f"openmai-ingest (parse + chunk), {r['threads']} thread{'s' if r['threads'] > 1 else ''}"
        chunks, cpu, same = r["chunks"], f"{r['cpu_s']:.1f}", python.get(False)
    else:
        name = f"Python {'parse+split+jieba+BM25' if r['index'] else 'parse+split'}, {r['workers']} processes"
        chunks, cpu, same = r["chunks"], f"{r['cpu_s']:.1f}", None
    ratio = f"{same['wall_s'] / r['wall_s']:.0f}x" if same else ""
    print(f"| {name} | {r['wall_s']:.1f} | {r['mb_per_s']:.2f} | {r['pdf_pages_per_s']:.0f} | {chunks} | {cpu} | {r['peak_rss_mib']:.0f} | {ratio} |")
EOF
