#!/usr/bin/env bash
# Completions benchmark (issue 4). Builds the release server and bench/chat, starts a fake
# OpenAI-compatible provider (bench/chat `fake`) and `openmai serve` with three providers on it,
# then measures from outside the server process:
#   1. completions/s and time to the first event, 64 concurrent, the provider answering at once;
#   2. OpenMai's share of the time to the first token: 64 concurrent against a provider whose
#      first token comes after 100 ms, against the same load sent to the provider directly;
#   3. streams held open at once (COUNT, default 10,000) and the server's memory per stream,
#      on a freshly started server, the provider sending a token a second.
# Each assistant answers from a small knowledge base (retrieval runs on every request).
#
#   bench/chat/run.sh                 # knobs: DURATION (20), CONCURRENCY (64), COUNT (10000)
set -euo pipefail
cd "$(dirname "$0")"
DURATION=${DURATION:-20}
CONCURRENCY=${CONCURRENCY:-64}
COUNT=${COUNT:-10000}
FAKE_PORT=${FAKE_PORT:-18811}
PORT=${PORT:-18812}
ulimit -n "$(ulimit -Hn)"

cargo build --release -q
(cd ../.. && cargo build --release --locked -q --bin openmai)
bench=$PWD/target/release/chat-bench
openmai=$PWD/../../target/release/openmai
work=$(mktemp -d)
fake_pid= server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$bench" fake "$FAKE_PORT" & fake_pid=$!
cat >"$work/openmai.toml" <<TOML
rate_limit_per_minute = 0
$(for p in instant delay trickle; do cat <<P
[[providers]]
name = "$p"
kind = "openai"
base_url = "http://127.0.0.1:$FAKE_PORT/$p/v1"
chat_models = ["m"]
max_concurrent_requests = 20000
http2_prior_knowledge = true
P
done)
TOML

start_server() {
  OPENMAI_LOG=warn OPENMAI_ADMIN_EMAIL=bench@example.com OPENMAI_ADMIN_PASSWORD=bench-password-1234 \
    "$openmai" --config "$work/openmai.toml" serve --bind "127.0.0.1:$PORT" --data-dir "$work/data" \
    >>"$work/stdout" 2>>"$work/stderr" &
  server=$!
  for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return; sleep 0.05; done
  cat "$work/stderr" >&2; exit 1
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; server=; }
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$server/status"; }

start_server
export OPENMAI_URL="http://127.0.0.1:$PORT"
OPENMAI_API_KEY=$(awk '/^  API key/ {print $3}' "$work/stdout")
export OPENMAI_API_KEY
api() { curl -fs -H "Authorization: Api-Key $OPENMAI_API_KEY" -H 'Content-Type: application/json' "$@"; }

mkdir "$work/kb"
printf '台灣高鐵退票規定\n\n旅客可於開車前辦理退票，並支付百分之十手續費。\n\n訂位說明\n\n旅客可在網站或車站訂位，訂位後請於三日內付款。\n' >"$work/kb/refund.txt"
"$openmai" kb create bench >/dev/null
"$openmai" kb ingest bench "$work/kb" >/dev/null
kb=$(api "$OPENMAI_URL/api/v1/knowledge-bases/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["id"])')
settings=$(api "$OPENMAI_URL/api/v1/chatbot-settings/")
assistant() {
  local llm
  llm=$(python3 -c 'import json,sys; print([m["id"] for m in json.load(sys.stdin)[0]["llms"] if m["name"] == sys.argv[1] + " m"][0])' "$1" <<<"$settings")
  api -d "{\"name\":\"$1\",\"largeLanguageModel\":\"$llm\",\"rag\":\"$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])' <<<"$settings")\",\"knowledgeBases\":[\"$kb\"]}" \
    "$OPENMAI_URL/api/v1/chatbots/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
instant=$(assistant instant)
delay=$(assistant delay)
trickle=$(assistant trickle)
echo "server idle RSS: $(rss) MiB"

echo "== 1. provider answering at once, $CONCURRENCY concurrent, ${DURATION}s"
"$bench" load "$OPENMAI_URL" "$OPENMAI_API_KEY" "$instant" "$CONCURRENCY" "$DURATION"
echo "server RSS after: $(rss) MiB"

echo "== 2. first token after 100 ms, $CONCURRENCY concurrent, ${DURATION}s: through OpenMai, then direct"
"$bench" load "$OPENMAI_URL" "$OPENMAI_API_KEY" "$delay" "$CONCURRENCY" "$DURATION"
"$bench" direct "http://127.0.0.1:$FAKE_PORT/delay/v1" "$CONCURRENCY" "$DURATION"

echo "== 3. $COUNT streams held open (fresh server)"
stop_server
start_server
sleep 2
"$bench" streams "$OPENMAI_URL" "$OPENMAI_API_KEY" "$trickle" "$COUNT" "$server"
