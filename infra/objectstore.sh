#!/usr/bin/env bash
# The S3-compatible object store on 127.0.0.1:$S3_PORT (default 9000), for the `minio` client.
# Locally this is moto's server (PyPI moto[s3], in var/infra-venv; data in memory only, any keys
# accepted); docker-compose.yml runs a real MinIO instead.
#   start   reuse whatever answers HTTP on the port, else start moto_server in the background
#   stop    stop the moto_server of var/objectstore/moto.pid; leave anything else alone
#   status  exit 0 when the port answers, 3 when it does not
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DIR="$VAR/objectstore"
PIDFILE="$DIR/moto.pid"
LOG="$DIR/moto.log"

http_ok() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$S3_PORT/"; }

start() {
  if port_open "$S3_PORT"; then
    wait_for 30 http_ok || die objectstore "127.0.0.1:$S3_PORT accepts connections but does not answer HTTP"
    if pid_alive "$PIDFILE" moto_server; then
      say objectstore "reused (ours, moto pid $(cat "$PIDFILE"), http://127.0.0.1:$S3_PORT)"
    else
      say objectstore "reused (already listening on http://127.0.0.1:$S3_PORT)"
    fi
    return
  fi
  ensure_infra_venv
  mkdir -p "$DIR"
  # setsid: its own session, so the server outlives the shell (and a Ctrl-C) that started it.
  setsid nohup "$INFRA_VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  if ! wait_for 60 http_ok; then
    tail -n 20 "$LOG" >&2
    die objectstore "moto_server did not answer on :$S3_PORT within 60 s (log: var/objectstore/moto.log)"
  fi
  say objectstore "started (moto pid $(cat "$PIDFILE"), http://127.0.0.1:$S3_PORT, data in memory)"
}

stop() {
  if pid_alive "$PIDFILE" moto_server; then
    local pid; pid="$(cat "$PIDFILE")"
    stop_pid "$pid" 20
    rm -f "$PIDFILE"
    say objectstore "stopped (moto pid $pid)"
  elif port_open "$S3_PORT"; then
    rm -f "$PIDFILE"
    say objectstore "left alone (127.0.0.1:$S3_PORT was not started by infra/)"
  else
    rm -f "$PIDFILE"
    say objectstore "not running"
  fi
}

status() {
  if port_open "$S3_PORT"; then
    if pid_alive "$PIDFILE" moto_server; then say objectstore "running (ours, moto pid $(cat "$PIDFILE"), :$S3_PORT)"
    else say objectstore "running (:$S3_PORT, not started by infra/)"; fi
  else
    say objectstore "not running (:$S3_PORT)"; return 3
  fi
}

case "${1:-}" in
  start | stop | status) "$1" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
