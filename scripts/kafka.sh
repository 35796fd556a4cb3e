#!/usr/bin/env bash
# Local single-node Kafka broker for development and tests, without Docker.
#
# The broker (KRaft mode, broker and controller in one JVM) runs from jars that
# Maven resolves from infra/kafka/pom.xml into a cache outside the repo.
#
# Usage: scripts/kafka.sh {start|stop|status}
#
# Environment (relative paths are taken from the repository root):
#   PULSE_KAFKA_PORT             client listener on 127.0.0.1 (default 9092)
#   PULSE_KAFKA_CONTROLLER_PORT  KRaft controller listener on 127.0.0.1 (default 9093)
#   PULSE_KAFKA_DATA_DIR         properties, log dirs, broker log, pid file (default var/kafka)
#   PULSE_KAFKA_VERSION          Kafka release to run (default: kafka.version in
#                                infra/kafka/pom.xml); the logging setup there is
#                                for the 3.x line (Kafka 4 moved to log4j2)
#   PULSE_CACHE_DIR              jar cache root (default ~/.cache/pulse)
#   PYTHON                       interpreter that has aiokafka (default .venv/bin/python)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/service.sh
source scripts/service.sh

POM="infra/kafka/pom.xml"
LOG4J_CONFIG="$ROOT/infra/kafka/log4j.properties"
POM_KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"

KAFKA_VERSION="${PULSE_KAFKA_VERSION:-$POM_KAFKA_VERSION}"
PORT="${PULSE_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${PULSE_KAFKA_CONTROLLER_PORT:-9093}"
DATA_DIR="$(realpath -m "${PULSE_KAFKA_DATA_DIR:-var/kafka}")"
LIB_DIR="${PULSE_CACHE_DIR:-$HOME/.cache/pulse}/kafka-$KAFKA_VERSION/lib"
PYTHON="${PYTHON:-.venv/bin/python}"

BOOTSTRAP="127.0.0.1:$PORT"
PROPS="$DATA_DIR/server.properties"
LOG_DIRS="$DATA_DIR/data"
BROKER_LOG="$DATA_DIR/kafka.log"
PID_FILE="$DATA_DIR/kafka.pid"
HEAP="512m"
START_TIMEOUT_S=90
STOP_TIMEOUT_S=30
LOG_TAIL_LINES=60

die() {
  echo "kafka: $*" >&2
  exit 1
}

require_python() {
  "$PYTHON" -c 'import aiokafka' 2>/dev/null ||
    die "$PYTHON cannot import aiokafka (run 'make venv' or set PYTHON)"
}

broker_answers() {
  "$PYTHON" scripts/wait_kafka.py --bootstrap "$BOOTSTRAP" --timeout 0 2>/dev/null
}

# Prints the pid of the broker this script started from $PROPS, if it is alive.
# The command line is checked so that a recycled pid is never signalled.
broker_pid() {
  local pid cmdline
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(<"$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
  [[ "$cmdline" == *"kafka.Kafka $PROPS"* ]] || return 1
  echo "$pid"
}

# Copies the broker jars once per version and pom.xml content; a changed pom
# re-resolves.
ensure_jars() {
  local stamp="$LIB_DIR/.pom.sha256" want
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(<"$stamp")" == "$want" ]]; then
    return
  fi
  command -v mvn >/dev/null || die "mvn not found on PATH (needed once to fetch the broker jars)"
  echo "kafka: resolving Kafka $KAFKA_VERSION jars into $LIB_DIR"
  rm -rf "$LIB_DIR"
  mkdir -p "$LIB_DIR"
  if ! mvn -q -B -f "$POM" dependency:copy-dependencies -Dkafka.version="$KAFKA_VERSION" \
    -DoutputDirectory="$LIB_DIR" >"$LIB_DIR.mvn.log" 2>&1; then
    cat "$LIB_DIR.mvn.log" >&2
    die "mvn could not resolve the broker jars (log: $LIB_DIR.mvn.log)"
  fi
  echo "$want" >"$stamp"
}

# Rewritten on every start so that port changes take effect. The quorum is
# static (controller.quorum.voters), as in the apache/kafka 3.9 image: 3.9's
# dynamic quorum (controller.quorum.bootstrap.servers) would instead need
# `StorageTool format --standalone`, and nothing here needs it.
write_properties() {
  mkdir -p "$LOG_DIRS"
  cat >"$PROPS" <<EOF
# Written by scripts/kafka.sh on every start: edits here are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$LOG_DIRS
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=87600
EOF
}

format_storage() {
  local cluster_id
  if [[ -f "$LOG_DIRS/meta.properties" ]]; then
    return
  fi
  cluster_id="$(java -cp "$LIB_DIR/*" kafka.tools.StorageTool random-uuid 2>/dev/null)"
  echo "kafka: formatting $LOG_DIRS (cluster id $cluster_id)"
  if ! java -Dlog4j.configuration="file:$LOG4J_CONFIG" -cp "$LIB_DIR/*" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPS" \
    >"$DATA_DIR/format.log" 2>&1; then
    tail -n "$LOG_TAIL_LINES" "$DATA_DIR/format.log" >&2
    die "formatting $LOG_DIRS failed (full output in $DATA_DIR/format.log)"
  fi
}

launch_broker() {
  if [[ -f "$BROKER_LOG" ]]; then
    mv "$BROKER_LOG" "$BROKER_LOG.1"
  fi
  nohup java -Xmx"$HEAP" -Dlog4j.configuration="file:$LOG4J_CONFIG" \
    -cp "$LIB_DIR/*" kafka.Kafka "$PROPS" >"$BROKER_LOG" 2>&1 </dev/null &
  echo "$!" >"$PID_FILE"
}

# A broker that fails to become ready is stopped, so no half-started JVM keeps
# holding the ports.
wait_ready() {
  local pid="$1" rc=0
  "$PYTHON" scripts/wait_kafka.py --bootstrap "$BOOTSTRAP" \
    --timeout "$START_TIMEOUT_S" --pid "$pid" || rc=$?
  if ((rc == 0)); then
    echo "kafka: ready on $BOOTSTRAP (Kafka $KAFKA_VERSION, pid $pid, log $BROKER_LOG)"
    return
  fi
  echo "kafka: broker did not become ready; last $LOG_TAIL_LINES lines of $BROKER_LOG:" >&2
  tail -n "$LOG_TAIL_LINES" "$BROKER_LOG" >&2 || true
  if grep -q -E '^\[[^]]*\] (ERROR|FATAL) ' "$BROKER_LOG"; then
    echo "kafka: first errors in $BROKER_LOG:" >&2
    grep -m 5 -E '^\[[^]]*\] (ERROR|FATAL) ' "$BROKER_LOG" >&2
  fi
  if broker_pid >/dev/null; then
    stop >&2
  fi
  exit 1
}

start() {
  local pid
  require_python
  if broker_answers; then
    echo "kafka: already running on $BOOTSTRAP"
    return
  fi
  if pid="$(broker_pid)"; then
    echo "kafka: broker pid $pid is up but not answering yet; waiting for it"
  else
    command -v java >/dev/null || die "java not found on PATH"
    ensure_jars
    write_properties
    format_storage
    launch_broker
    pid="$(<"$PID_FILE")"
    echo "kafka: started pid $pid, waiting up to ${START_TIMEOUT_S}s for $BOOTSTRAP"
  fi
  wait_ready "$pid"
}

stop() {
  local pid
  if ! pid="$(broker_pid)"; then
    rm -f "$PID_FILE"
    echo "kafka: not running (no broker started by this script)"
    return
  fi
  kill -TERM "$pid"
  wait_gone kafka "$pid" "$STOP_TIMEOUT_S" broker_pid
  rm -f "$PID_FILE"
}

status() {
  local pid
  require_python
  if pid="$(broker_pid)"; then
    if broker_answers; then
      echo "kafka: running on $BOOTSTRAP (pid $pid, data $DATA_DIR)"
      return 0
    fi
    echo "kafka: pid $pid is alive but $BOOTSTRAP does not answer"
    return 1
  fi
  if broker_answers; then
    echo "kafka: $BOOTSTRAP answers (a broker not started by this script)"
    return 0
  fi
  echo "kafka: not running"
  return 3
}

dispatch "$@"
