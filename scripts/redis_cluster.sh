#!/usr/bin/env bash
# A Redis Cluster of 3 masters (no replicas) on loopback, for the cluster integration test and
# for trying streamrec against a cluster: STREAMREC_REDIS_URL=redis+cluster://127.0.0.1:17000
#
# Usage: scripts/redis_cluster.sh start|stop|status
#
# Environment:
#   STREAMREC_REDIS_CLUSTER_PORT  first port, default 17000 (the nodes use it and the next two;
#                                 Redis also uses port + 10000 for the cluster bus)
#   STREAMREC_STATE_DIR           runtime state root, default <repo>/.run (we use redis-cluster/)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
STATE_DIR=${STREAMREC_STATE_DIR:-$REPO_ROOT/.run}/redis-cluster
HOST=127.0.0.1
FIRST_PORT=${STREAMREC_REDIS_CLUSTER_PORT:-17000}
PORTS=("$FIRST_PORT" "$((FIRST_PORT + 1))" "$((FIRST_PORT + 2))")
START_TIMEOUT=20

# shellcheck source=scripts/lib/stop_pids.sh
source "$SCRIPT_DIR/lib/stop_pids.sh"

log() { echo "[redis-cluster] $*"; }
die() { echo "[redis-cluster] ERROR: $*" >&2; exit 1; }

ping_ok() { [[ "$(redis-cli -h "$HOST" -p "$1" ping 2>/dev/null)" == "PONG" ]]; }
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
cluster_ok() { redis-cli -h "$HOST" -p "$1" cluster info 2>/dev/null | grep -q "cluster_state:ok"; }

# The pid of our node on a port, only if it is still a redis-server there (pid reuse guard).
our_pid() {
  local pid_file=$STATE_DIR/$1/redis.pid pid
  [[ -f "$pid_file" ]] || return 1
  pid=$(<"$pid_file")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "redis-server.*:$1\b" || return 1
  echo "$pid"
}

wait_until() {  # wait_until WHAT COMMAND...
  local what=$1 waited=0
  shift
  until "$@"; do
    (( waited < START_TIMEOUT * 4 )) || die "$what not reached within ${START_TIMEOUT}s"
    sleep 0.25
    waited=$((waited + 1))
  done
}

start_node() {
  local port=$1 dir=$STATE_DIR/$1
  if our_pid "$port" >/dev/null && ping_ok "$port"; then
    return 0
  fi
  port_open "$port" && die "port $port is in use by another process; set STREAMREC_REDIS_CLUSTER_PORT"
  mkdir -p "$dir"
  # No persistence: a test cluster; nodes.conf alone keeps the slot map across restarts.
  redis-server --bind "$HOST" --port "$port" --dir "$dir" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
    --appendonly no --save "" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  wait_until "PING on $port" ping_ok "$port"
}

all_cluster_ok() {
  local port
  for port in "${PORTS[@]}"; do cluster_ok "$port" || return 1; done
}

cmd_start() {
  command -v redis-server >/dev/null 2>&1 || die "redis-server not found (scripts/redis.sh start installs it)"
  local port
  for port in "${PORTS[@]}"; do start_node "$port"; done
  if ! all_cluster_ok; then
    local known
    known=$(redis-cli -h "$HOST" -p "${PORTS[0]}" cluster info | grep -o "cluster_known_nodes:[0-9]*")
    if [[ "$known" == "cluster_known_nodes:1" ]]; then
      log "creating the cluster (3 masters, no replicas)"
      redis-cli --cluster create "${PORTS[@]/#/$HOST:}" --cluster-replicas 0 --cluster-yes >/dev/null
    fi
    wait_until "cluster_state:ok" all_cluster_ok
  fi
  log "ready: redis+cluster://$HOST:${PORTS[0]} (nodes ${PORTS[*]}, state in $STATE_DIR)"
}

cmd_stop() {
  local port pid pids=() stopped=()
  for port in "${PORTS[@]}"; do
    if pid=$(our_pid "$port"); then
      pids+=("$pid")
      stopped+=("$port (pid $pid)")
    fi
    rm -f "$STATE_DIR/$port/redis.pid"
  done
  ((${#pids[@]} == 0)) || stop_pids 10 "${pids[@]}"
  ((${#stopped[@]} == 0)) || log "stopped nodes ${stopped[*]}"
}

cmd_status() {
  if all_cluster_ok; then
    log "running: redis+cluster://$HOST:${PORTS[0]}"
    return 0
  fi
  log "stopped (or not a healthy cluster)"
  return 3
}

case "${1:-}" in
  start|stop|status) "cmd_$1" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
