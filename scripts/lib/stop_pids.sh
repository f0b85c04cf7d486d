# shellcheck shell=bash
# Stopping processes the project started, by pid: SIGTERM to all, then SIGKILL to any still
# alive when the time is up. Only ever the given pids (callers check them against pid reuse).
# Sourced, not run; logs through the caller's log() when it has one.

stop_pids() {  # stop_pids <seconds> <pid>...
  local seconds=$1 pid waits
  shift
  for pid in "$@"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  waits=$((seconds * 4))  # quarter seconds, shared by all the pids
  for pid in "$@"; do
    while kill -0 "$pid" 2>/dev/null && ((waits > 0)); do
      sleep 0.25
      waits=$((waits - 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      if declare -F log >/dev/null; then
        log "pid $pid still alive after $seconds s; sending SIGKILL"
      else
        echo "pid $pid still alive after $seconds s; sending SIGKILL" >&2
      fi
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}
