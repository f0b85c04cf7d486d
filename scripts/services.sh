#!/usr/bin/env bash
# Bring the project's backing services (Redis, then Kafka) up or down for dev and CI.
# Each service script skips itself when an external instance is configured
# (STREAMREC_REDIS_URL / STREAMREC_KAFKA_BOOTSTRAP); see scripts/redis.sh and scripts/kafka.sh.
#
# Usage: scripts/services.sh up|down|status
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVICES=(redis kafka)   # started in this order, stopped in reverse

log() { echo "[services] $*"; }

cmd_up() {
  local s started=$SECONDS
  for s in "${SERVICES[@]}"; do
    log "starting $s"
    bash "$SCRIPT_DIR/$s.sh" start || { log "FAILED to start $s"; exit 1; }
  done
  log "all up in $((SECONDS - started))s"
}

# Keep going past a failure so one broken service never leaves the other running.
cmd_down() {
  local i s rc=0
  for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
    s=${SERVICES[i]}
    log "stopping $s"
    bash "$SCRIPT_DIR/$s.sh" stop || { log "failed to stop $s (continuing)"; rc=1; }
  done
  log "down"
  return "$rc"
}

cmd_status() {
  local s rc=0
  for s in "${SERVICES[@]}"; do
    bash "$SCRIPT_DIR/$s.sh" status || rc=$?
  done
  return "$rc"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
