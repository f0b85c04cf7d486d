# shellcheck shell=bash
# Shared by scripts/kafka.sh (one broker) and scripts/kafka_cluster.sh (three): where the jars
# are cached, how they are resolved with Maven, how storage is formatted and a broker JVM is
# launched. Sourced, not run. The caller defines log() and die() (its own prefix) and, before
# calling storage_tool or launch_broker, LOG_DIR.

KAFKA_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KAFKA_REPO_ROOT=$(cd "$KAFKA_SCRIPTS_DIR/.." && pwd)
POM=$KAFKA_SCRIPTS_DIR/kafka/pom.xml
LOG4J_CONFIG=$KAFKA_SCRIPTS_DIR/kafka/log4j2.properties
# shellcheck source=scripts/lib/stop_pids.sh
source "$KAFKA_SCRIPTS_DIR/lib/stop_pids.sh"

# The pom is the single source of truth for the version; the cache dir is named after it.
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
CACHE_DIR=${STREAMREC_CACHE_DIR:-$HOME/.cache/streamrec}/kafka-$KAFKA_VERSION
LIBS_DIR=$CACHE_DIR/libs
LIBS_STAMP=$CACHE_DIR/libs.stamp   # holds the pom's checksum once every jar is copied

HOST=127.0.0.1
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$KAFKA_REPO_ROOT/.venv/bin/python" ]]; then
    PYTHON=$KAFKA_REPO_ROOT/.venv/bin/python
  else
    PYTHON=python3
  fi
fi
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java

# A fresh Debian machine may lack the JDK or Maven; install them from apt rather than by hand.
ensure_command() {  # ensure_command <cmd> <debian package>
  command -v "$1" >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "'$1' not found; install $2"
  log "'$1' not found; installing Debian package $2"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Copy the broker's runtime jars into the cache once; later runs skip Maven entirely.
resolve_jars() {
  local want; want=$(sha256sum "$POM" | cut -d' ' -f1)
  if [[ -f "$LIBS_STAMP" && "$(<"$LIBS_STAMP")" == "$want" ]]; then
    return 0
  fi
  ensure_command mvn maven
  log "resolving Kafka $KAFKA_VERSION jars with Maven into $LIBS_DIR (first run only)"
  rm -rf "$LIBS_DIR" "$LIBS_STAMP"   # never mix jars from an interrupted or older resolve
  mkdir -p "$LIBS_DIR"
  # Output goes to a file (mvn -q still emits terminal escapes); shown only on failure.
  if ! mvn -B -q -f "$POM" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$LIBS_DIR" >"$CACHE_DIR/mvn.log" 2>&1; then
    cat "$CACHE_DIR/mvn.log" >&2
    die "Maven could not resolve the Kafka jars (see above)"
  fi
  echo "$want" >"$LIBS_STAMP"
}

storage_tool() {
  "$JAVA" -Xmx256m -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$LIBS_DIR/*" kafka.tools.StorageTool "$@"
}

# Readiness is checked with kafka-python; find out before starting a JVM, not after.
check_python() {
  "$PYTHON" -c 'import kafka' 2>/dev/null ||
    die "'$PYTHON' cannot import kafka-python; create the venv first, or set PYTHON"
}

# The pid in PID_FILE, only if that process is still the broker of PROPS (pid reuse guard).
broker_pid() {  # broker_pid <pid file> <server.properties>
  [[ -f "$1" ]] || return 1
  local pid; pid=$(<"$1")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $2" || return 1
  echo "$pid"
}

# Keep one previous log, so a failure's log tail shows only this start.
rotate_broker_log() {
  mkdir -p "$LOG_DIR"
  if [[ -f "$LOG_DIR/server.log" ]]; then mv -f "$LOG_DIR/server.log" "$LOG_DIR/server.log.prev"; fi
}

# Start a broker JVM in the background; its pid goes to the pid file. KAFKA_OPTS (the name
# Apache Kafka's own scripts use) adds JVM options, e.g. -XX:+AlwaysPreTouch for the soak test.
launch_broker() {  # launch_broker <server.properties> <pid file> <heap, e.g. 512m>
  local extra=()
  read -r -a extra <<<"${KAFKA_OPTS:-}"
  # setsid + nohup: the broker outlives this shell and is not hit by its terminal's signals.
  # In a non-interactive shell the background child is no group leader, so setsid execs in
  # place and $! is the java pid itself.
  setsid nohup "$JAVA" "-Xmx$3" "-Xms$3" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 "${extra[@]}" \
    -Djava.awt.headless=true -Dkafka.logs.dir="$LOG_DIR" \
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
    -cp "$LIBS_DIR/*" kafka.Kafka "$1" >"$LOG_DIR/kafka.out" 2>&1 </dev/null &
  echo "$!" >"$2"
}

# SIGTERM (controlled shutdown), SIGKILL after 30 s; only ever the given pid.
stop_broker_pid() {  # stop_broker_pid <pid>
  stop_pids 30 "$1"
}

print_broker_log_tail() {  # print_broker_log_tail <log dir>
  if [[ -s "$1/kafka.out" ]]; then
    echo "----- last 20 lines of $1/kafka.out (JVM stdout/stderr) -----" >&2
    tail -n 20 "$1/kafka.out" >&2
  fi
  echo "----- last 60 lines of $1/server.log -----" >&2
  tail -n 60 "$1/server.log" >&2 2>/dev/null || echo "(no server.log)" >&2
}
