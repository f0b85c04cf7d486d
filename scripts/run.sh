#!/usr/bin/env bash
# `make run`: the whole pipeline on this machine, on sample data, in the foreground.
# Starts Kafka + Redis (unless STREAMREC_KAFKA_BOOTSTRAP / STREAMREC_REDIS_URL point at existing
# ones), the stream worker, replays sample events, trains the first model, serves the API, then
# waits. Ctrl-C (or `make stop` from another terminal) stops everything it started.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${STREAMREC_STATE_DIR:-$REPO/.run}"
LOGS="$STATE/logs"
SR="$REPO/.venv/bin/streamrec"
PY="$REPO/.venv/bin/python"
DATA="${STREAMREC_DATA_DIR:-$REPO/../shared/data}/ml-100k/u.data"
EXAMPLE_USER=1 EXAMPLE_ITEM=50   # ids that exist in MovieLens; generated data uses user-N/item-N
HOST="${STREAMREC_API_HOST:-127.0.0.1}"
PORT="${STREAMREC_API_PORT:-8000}"
export STREAMREC_MODEL_DIR="${STREAMREC_MODEL_DIR:-$STATE/models}"

say() { printf '\033[1m[run]\033[0m %s\n' "$*"; }

# Start a streamrec command in the background, logging to $LOGS/<name>.log, pid in $STATE.
start_background() {
  local name=$1; shift
  "$SR" "$@" >"$LOGS/$name.log" 2>&1 &
  echo $! >"$STATE/$name.pid"
  say "$name started (pid $!, log $LOGS/$name.log)"
}

processed() { "$SR" status | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["processed"])'; }

wait_ready() {
  for _ in $(seq 1 120); do
    if curl -fsS "http://$HOST:$PORT/readyz" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  say "the API did not become ready; last log lines:"; tail -n 40 "$LOGS/api.log"; return 1
}

# Runs on Ctrl-C, on `make stop` (SIGTERM) and on any failure. It must finish even when the
# terminal or a pipe reading our output is gone, hence no -e and SIGPIPE ignored here.
cleanup() {
  trap - INT TERM HUP EXIT
  trap '' PIPE
  set +e
  say "stopping"
  # The service scripts run with `set -e`: an echo into a pipe whose reader died (`make run | tee`
  # interrupted by Ctrl-C) would end them before they stop anything. So log to a file first.
  bash "$REPO/scripts/stop.sh" >"$LOGS/stop.log" 2>&1
  cat "$LOGS/stop.log" 2>/dev/null
}

mkdir -p "$LOGS"
trap cleanup INT TERM HUP EXIT
bash "$REPO/scripts/services.sh" up
"$SR" topics
start_background stream stream

before=$(processed)
if [[ -f "$DATA" ]]; then
  # Genres for category= filters; set before the API starts (it reads the catalogue once).
  export STREAMREC_CATALOGUE_PATH="${STREAMREC_CATALOGUE_PATH:-$(dirname "$DATA")/u.item}"
  say "replaying MovieLens 100K from $DATA"
  "$SR" replay "$DATA" ${STREAMREC_REPLAY_LIMIT:+--limit "$STREAMREC_REPLAY_LIMIT"} | tee "$STATE/replay.json"
else
  say "MovieLens 100K not found at $DATA: replaying 20000 generated events instead"
  "$SR" replay --generate "${STREAMREC_REPLAY_LIMIT:-20000}" | tee "$STATE/replay.json"
  EXAMPLE_USER=user-1 EXAMPLE_ITEM=item-9
fi
published=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["published"])' "$STATE/replay.json")
say "waiting for the stream worker to apply $published events"
"$SR" status --wait-processed $((before + published)) --timeout 900

say "training the first model"
"$SR" train
start_background api api
wait_ready

cat <<MSG

  streamrec is running.
    API            http://$HOST:$PORT   (readiness: curl -s http://$HOST:$PORT/readyz)
    demo           http://$HOST:$PORT/demo   (open it in a browser; API reference: /docs)
    logs           $LOGS/{stream,api}.log, Kafka and Redis logs under $STATE
    models         $STREAMREC_MODEL_DIR

  Try:
    curl -s 'http://$HOST:$PORT/v1/users/$EXAMPLE_USER/recommendations?k=5'
    curl -s 'http://$HOST:$PORT/v1/items/$EXAMPLE_ITEM/similar?k=5'
    curl -s -X POST http://$HOST:$PORT/v1/events -H 'Content-Type: application/json' \\
      -d '{"event_id":"demo-1","user_id":"new-user","item_id":"$EXAMPLE_ITEM","event_type":"watch","timestamp":"2026-01-01T12:00:00Z"}'
    curl -s 'http://$HOST:$PORT/v1/users/new-user/recommendations?k=5'
    curl -s 'http://$HOST:$PORT/v1/trending?k=5'
    curl -s 'http://$HOST:$PORT/v1/model'

  Ctrl-C (or \`make stop\` in another terminal) stops everything started here.
MSG
wait
