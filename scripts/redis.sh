#!/usr/bin/env bash
# Private Redis instance for development and tests: bound to 127.0.0.1, data
# under the repo's var/redis, no persistence. Not the system redis service.
#
# Usage: scripts/redis.sh {start|stop|status}
#
# Environment (relative paths are taken from the repository root):
#   PULSE_REDIS_PORT      port on 127.0.0.1 (default 6379)
#   PULSE_REDIS_DATA_DIR  working dir, pid file and log (default var/redis)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/service.sh
source scripts/service.sh

PORT="${PULSE_REDIS_PORT:-6379}"
DATA_DIR="$(realpath -m "${PULSE_REDIS_DATA_DIR:-var/redis}")"
PID_FILE="$DATA_DIR/redis.pid"
LOG_FILE="$DATA_DIR/redis.log"
START_TIMEOUT_S=10
STOP_TIMEOUT_S=10
LOG_TAIL_LINES=60

die() {
  echo "redis: $*" >&2
  exit 1
}

# Debian's package starts its own redis-server service on 6379 (data in
# /var/lib/redis, RDB snapshots on). It is stopped right after installing so
# that 6379 goes to our private instance, whose data dir and settings are ours;
# otherwise `start` would find the system service answering PING and reuse it.
ensure_installed() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    return
  fi
  ((EUID == 0)) || die "redis-server is not installed; install it (apt-get install redis-server) or run this as root"
  echo "redis: installing redis-server with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  service redis-server stop >/dev/null 2>&1 || true
}

answers_ping() {
  [[ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" == "PONG" ]]
}

# Prints the pid of the instance this script started, if it is alive. Redis
# renames its process to "redis-server 127.0.0.1:PORT", which is checked so a
# recycled pid is never signalled.
redis_pid() {
  local pid cmdline
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(<"$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
  [[ "$cmdline" == *"redis-server"*":$PORT"* ]] || return 1
  echo "$pid"
}

start() {
  local i
  ensure_installed
  if answers_ping; then
    echo "redis: already running on 127.0.0.1:$PORT"
    return
  fi
  mkdir -p "$DATA_DIR"
  redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DATA_DIR" \
    --daemonize yes --pidfile "$PID_FILE" --logfile "$LOG_FILE" \
    --save '' --appendonly no
  for ((i = 0; i < START_TIMEOUT_S * 10; i++)); do
    if answers_ping; then
      echo "redis: ready on 127.0.0.1:$PORT (pid $(<"$PID_FILE"), log $LOG_FILE)"
      return
    fi
    sleep 0.1
  done
  echo "redis: no PONG within ${START_TIMEOUT_S}s; last $LOG_TAIL_LINES lines of $LOG_FILE:" >&2
  tail -n "$LOG_TAIL_LINES" "$LOG_FILE" >&2 || true
  exit 1
}

stop() {
  local pid
  if ! pid="$(redis_pid)"; then
    rm -f "$PID_FILE"
    echo "redis: not running (no instance started by this script)"
    return
  fi
  redis-cli -h 127.0.0.1 -p "$PORT" shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid"
  wait_gone redis "$pid" "$STOP_TIMEOUT_S" redis_pid
  rm -f "$PID_FILE"
}

status() {
  local pid
  if ! command -v redis-cli >/dev/null; then
    echo "redis: not installed"
    return 3
  fi
  if pid="$(redis_pid)" && answers_ping; then
    echo "redis: running on 127.0.0.1:$PORT (pid $pid, data $DATA_DIR)"
    return 0
  fi
  if answers_ping; then
    echo "redis: 127.0.0.1:$PORT answers (an instance not started by this script)"
    return 0
  fi
  echo "redis: not running"
  return 3
}

dispatch "$@"
