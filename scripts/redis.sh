#!/usr/bin/env bash
# A private Redis for dev and CI, on a non-standard loopback port so it never meets a
# system Redis on 6379. Installs redis-server from Debian's apt when it is missing.
#
# Usage: scripts/redis.sh start|stop|status
#
# Environment:
#   STREAMREC_REDIS_URL   set => an external Redis is used; this script does nothing
#   STREAMREC_REDIS_PORT  port, default 16379
#   STREAMREC_STATE_DIR   runtime state root, default <repo>/.run (we use its redis/)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
STATE_DIR=${STREAMREC_STATE_DIR:-$REPO_ROOT/.run}/redis
PID_FILE=$STATE_DIR/redis.pid
LOG_FILE=$STATE_DIR/redis.log
HOST=127.0.0.1
PORT=${STREAMREC_REDIS_PORT:-16379}
START_TIMEOUT=20

# shellcheck source=scripts/lib/stop_pids.sh
source "$SCRIPT_DIR/lib/stop_pids.sh"

log() { echo "[redis] $*"; }
die() { echo "[redis] ERROR: $*" >&2; exit 1; }

# Installing redis-server normally starts a system Redis on 6379 from the postinst.
# A policy-rc.d that answers 101 ("action forbidden") stops that; the original is restored.
install_redis() {
  command -v apt-get >/dev/null 2>&1 || die "redis-server not found and no apt-get to install it"
  log "redis-server not found; installing it from apt (without starting the system service)"
  local policy=/usr/sbin/policy-rc.d backup=""
  if [[ -e "$policy" ]]; then backup=$(mktemp); cp -p "$policy" "$backup"; fi
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  local rc=0
  { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; } || rc=$?
  if [[ -n "$backup" ]]; then mv "$backup" "$policy"; else rm -f "$policy"; fi
  [[ $rc -eq 0 ]] || die "apt-get install redis-server failed (exit $rc)"
}

ping_ok() { [[ "$(redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null)" == "PONG" ]]; }
port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

# The pid from our pid file, only if it is still a redis-server on our port (pid reuse guard).
our_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid; pid=$(<"$PID_FILE")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "redis-server.*:$PORT\b" || return 1
  echo "$pid"
}

print_log_tail() {
  echo "----- last 40 lines of $LOG_FILE -----" >&2
  tail -n 40 "$LOG_FILE" >&2 2>/dev/null || echo "(no log)" >&2
}

cmd_start() {
  local pid
  command -v redis-server >/dev/null 2>&1 || install_redis
  if pid=$(our_pid) && ping_ok; then
    log "already running (pid $pid, $HOST:$PORT)"
    return 0
  fi
  [[ -z "${pid:-}" ]] || die "our redis (pid $pid) is alive but does not answer PING; run '$0 stop' first"
  port_open && die "port $PORT is in use by another process; set STREAMREC_REDIS_PORT"
  rm -f "$PID_FILE"
  mkdir -p "$STATE_DIR"
  log "starting redis on $HOST:$PORT, data in $STATE_DIR"
  # AOF on, RDB snapshots off: durable enough for dev, and no fork-for-save pauses.
  redis-server --bind "$HOST" --port "$PORT" --dir "$STATE_DIR" \
    --appendonly yes --save "" \
    --daemonize yes --pidfile "$PID_FILE" --logfile "$LOG_FILE"
  local waited=0
  until ping_ok; do
    if (( waited >= START_TIMEOUT * 4 )); then
      print_log_tail
      die "redis did not answer PING within ${START_TIMEOUT}s"
    fi
    sleep 0.25
    waited=$((waited + 1))
  done
  log "ready (pid $(<"$PID_FILE"))"
}

cmd_stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  # SIGTERM is Redis's graceful SHUTDOWN (flushes the AOF); aimed at our pid only.
  log "stopping pid $pid"
  stop_pids 10 "$pid"
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid
  if pid=$(our_pid) && ping_ok; then
    log "running (pid $pid, $HOST:$PORT)"
    return 0
  fi
  log "stopped"
  return 3
}

main() {
  local cmd=${1:-}
  case "$cmd" in start|stop|status) ;; *)
    echo "usage: $0 start|stop|status" >&2; exit 2 ;;
  esac
  if [[ -n "${STREAMREC_REDIS_URL:-}" ]]; then
    log "STREAMREC_REDIS_URL is set (external Redis); skipping '$cmd'"
    exit 0
  fi
  "cmd_$cmd"
}

main "$@"
