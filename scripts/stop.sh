#!/usr/bin/env bash
# `make stop`: stop what `make run` started (API, stream worker, then Kafka and Redis) and nothing
# else: only the processes whose pids the project's scripts recorded.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${STREAMREC_STATE_DIR:-$REPO/.run}"
# shellcheck source=scripts/lib/stop_pids.sh
source "$REPO/scripts/lib/stop_pids.sh"

stop_pid_file() {
  local file=$1 pid
  [[ -f "$file" ]] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    stop_pids 30 "$pid"
    echo "[stop] stopped $(basename "$file" .pid) (pid $pid)"
  fi
  rm -f "$file"
}

stop_pid_file "$STATE/api.pid"
stop_pid_file "$STATE/stream.pid"
bash "$REPO/scripts/services.sh" down
bash "$REPO/scripts/redis_cluster.sh" stop
