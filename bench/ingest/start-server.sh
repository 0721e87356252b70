# Sourced by server.sh and list.sh, from the repository's root, after they set CORPUS and PORT:
# checks the corpus, takes OPENMAI_BIN or builds target/release/openmai, starts `openmai serve` on
# PORT with a fresh data directory (logging to SERVE_LOG, default serve.log in it), waits for it,
# and exports OPENMAI_URL and OPENMAI_API_KEY. Sets `bin`, `data` and `server`; on exit the server
# and `sampler` (a process the caller may start) are stopped and the data directory removed.
[ -d "$CORPUS" ] || { echo "no corpus at $CORPUS: run bench/ingest/run.sh first" >&2; exit 1; }

if [ -n "${OPENMAI_BIN:-}" ]; then
  bin=$OPENMAI_BIN
else
  cargo build --release --locked -q --bin openmai
  bin=$PWD/target/release/openmai
fi
data=$(mktemp -d)
export OPENMAI_ADMIN_EMAIL=bench@example.com OPENMAI_ADMIN_PASSWORD=bench-password-1234
export OPENMAI_LOG=warn
"$bin" serve --bind "127.0.0.1:$PORT" --data-dir "$data" >"${SERVE_LOG:-$data/serve.log}" 2>&1 &
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
