# shellcheck shell=bash
# Helpers shared by scripts/kafka.sh and scripts/redis.sh; sourced, not run.

# wait_gone NAME PID TIMEOUT_S ALIVE_FN: wait for ALIVE_FN to fail, then
# SIGKILL PID if it has not, and say the service stopped.
wait_gone() {
  local name=$1 pid=$2 timeout_s=$3 alive=$4 i
  for ((i = 0; i < timeout_s * 10; i++)); do
    "$alive" >/dev/null || break
    sleep 0.1
  done
  if "$alive" >/dev/null; then
    echo "$name: pid $pid still running after ${timeout_s}s; sending SIGKILL"
    kill -KILL "$pid"
  fi
  echo "$name: stopped pid $pid"
}

# dispatch ARG: run the start, stop or status function the argument names.
dispatch() {
  case "${1:-}" in
    start | stop | status) "$1" ;;
    *)
      echo "usage: $0 {start|stop|status}" >&2
      exit 2
      ;;
  esac
}
