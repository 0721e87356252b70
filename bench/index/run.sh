#!/usr/bin/env bash
# Retrieval benchmark (openmai-index): build time, size on disk, RSS, p50/p99 latency and
# recall@10 of keyword-only and hybrid search at 10k, 100k and 1M chunks.
#
#   bench/index/run.sh                                  # all three sizes (the 1M build takes minutes)
#   bench/index/run.sh --sizes 10000,100000            # smaller run
#   bench/index/run.sh --sizes 1000000 --reuse         # re-measure an index built earlier
#
# Other flags: --queries N (default 2000), --dim D (384), --quantization f16|f32, --ef N,
# --threads N (for the QPS column, default 2), --dir PATH (default $TMPDIR/openmai-index-bench).
#
# The PostgreSQL index (pgvector + GIN) instead of the embedded one, on a server with pgvector
# (one database per size, openmai_index_bench_N, dropped and created there):
#   bench/index/run.sh --backend postgres \
#     --database-url "$(crates/openmai-index/tests/setup_pgvector.sh | tail -n1)" --sizes 10000,100000
# The corpus's Chinese vocabulary is jieba's own dictionary, located through cargo metadata.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${OPENMAI_BENCH_DICT:-}" ]; then
  jieba_manifest=$(cargo metadata --format-version 1 --locked 2>/dev/null |
    jq -r '.packages[] | select(.name == "jieba-rs") | .manifest_path' | head -n1)
  if [ -n "$jieba_manifest" ]; then
    export OPENMAI_BENCH_DICT="$(dirname "$jieba_manifest")/src/data/dict.txt"
  fi
fi
cargo bench --locked -p openmai-index --bench search -- "$@"
