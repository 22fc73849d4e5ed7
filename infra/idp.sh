#!/usr/bin/env bash
# The local OpenID Connect provider on 127.0.0.1:$IDP_PORT (default 9400), for development and tests:
# panva's oidc-provider (npm, infra/idp/package-lock.json) on Node.js, with the people and clients of
# infra/idp/seed.json. Its signing keys are kept in var/idp/keys.json (made on first start, reused
# after); sessions, tokens and registered accounts are in memory. docker-compose.yml runs Keycloak instead.
#   start   reuse whatever serves our issuer's discovery on the port, else `npm ci` (only when the
#           lockfile changed) and start infra/idp/server.js in the background; one that does not
#           answer within IDP_START_SECONDS (60) is stopped and started once more (twice as long)
#   stop    stop the server of var/idp/idp.pid; leave anything else alone
#   status  exit 0 when the port answers, 3 when it does not
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
APP="$ROOT/infra/idp"
DIR="$VAR/idp"
PIDFILE="$DIR/idp.pid"
LOG="$DIR/idp.log"
ISSUER="${IDP_ISSUER:-http://127.0.0.1:$IDP_PORT}"

# Our provider answers: the discovery document on the port names our issuer.
discovery_ok() {
  curl -sf --max-time 2 "http://127.0.0.1:$IDP_PORT/.well-known/openid-configuration" 2>/dev/null \
    | grep -qF "\"issuer\":\"$ISSUER\""
}

# infra/idp/node_modules from the lockfile, reinstalled only when the lockfile changes.
ensure_modules() {
  local stamp="$DIR/package-lock.sha256" want
  want="$(sha256sum "$APP/package-lock.json" | cut -d' ' -f1)"
  [ -d "$APP/node_modules" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  command -v npm >/dev/null || apt_install nodejs npm
  # oidc-provider 9 needs Node.js 20+; Debian 12's own nodejs is 18.
  local major; major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die idp "Node.js $major found; oidc-provider 9 needs Node.js 20 or later (e.g. NodeSource's nodejs)"
  (cd "$APP" && npm ci --omit=dev --no-audit --no-fund) >"$DIR/npm.log" 2>&1 \
    || { tail -n 20 "$DIR/npm.log" >&2; die idp "npm ci failed (log: var/idp/npm.log)"; }
  echo "$want" >"$stamp"
  say idp "installed infra/idp/package-lock.json into infra/idp/node_modules"
}

# setsid: its own session, so the server outlives the shell (and a Ctrl-C) that started it.
launch() {
  IDP_PORT="$IDP_PORT" setsid nohup node "$APP/server.js" >>"$LOG" 2>&1 </dev/null 9>&- &
  echo $! >"$PIDFILE"
}

start() {
  mkdir -p "$DIR"
  # One start at a time (two `make` runs at once would otherwise both run npm ci and node).
  exec 9>"$DIR/start.lock"
  flock 9
  if port_open "$IDP_PORT"; then
    wait_for 30 discovery_ok || die idp "127.0.0.1:$IDP_PORT is taken by something that is not the provider for $ISSUER"
    if pid_alive "$PIDFILE" infra/idp/server.js; then
      say idp "reused (ours, node pid $(cat "$PIDFILE"), $ISSUER)"
    else
      say idp "reused (already serving $ISSUER)"
    fi
    return
  fi
  ensure_modules
  # It answers within 2-3 s here; a busy CI machine gets a minute, and a start that hangs (seen once on
  # CI, cause unknown) one more try, said in the output.
  local patience="${IDP_START_SECONDS:-60}"
  launch
  if ! wait_for "$patience" discovery_ok; then
    tail -n 20 "$LOG" >&2
    if pid_alive "$PIDFILE" infra/idp/server.js; then
      say idp "node pid $(cat "$PIDFILE") did not answer within $patience s; stopping it and starting the provider once more"
      stop_pid "$(cat "$PIDFILE")" 5
    else
      say idp "node exited without answering; starting the provider once more"
    fi
    launch
    if ! wait_for $((patience * 2)) discovery_ok; then
      tail -n 20 "$LOG" >&2
      if pid_alive "$PIDFILE" infra/idp/server.js; then
        die idp "the provider (node pid $(cat "$PIDFILE"), still running) did not answer on :$IDP_PORT within $patience s, nor within $((patience * 2)) s once more (log: var/idp/idp.log)"
      fi
      die idp "the provider exited without answering on :$IDP_PORT, twice (log: var/idp/idp.log)"
    fi
  fi
  say idp "started (node pid $(cat "$PIDFILE"), $ISSUER, keys in var/idp/keys.json)"
}

stop() {
  if pid_alive "$PIDFILE" infra/idp/server.js; then
    local pid; pid="$(cat "$PIDFILE")"
    stop_pid "$pid" 10
    rm -f "$PIDFILE"
    say idp "stopped (node pid $pid)"
  elif port_open "$IDP_PORT"; then
    rm -f "$PIDFILE"
    say idp "left alone (127.0.0.1:$IDP_PORT was not started by infra/)"
  else
    rm -f "$PIDFILE"
    say idp "not running"
  fi
}

status() {
  if port_open "$IDP_PORT"; then
    if pid_alive "$PIDFILE" infra/idp/server.js; then say idp "running (ours, node pid $(cat "$PIDFILE"), :$IDP_PORT)"
    else say idp "running (:$IDP_PORT, not started by infra/)"; fi
  else
    say idp "not running (:$IDP_PORT)"; return 3
  fi
}

case "${1:-}" in
  start | stop | status) "$1" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
