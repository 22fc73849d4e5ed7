#!/usr/bin/env bash
# RabbitMQ on 127.0.0.1:$RABBITMQ_PORT (default 5672), node $RABBITMQ_NODENAME (default rabbit@localhost).
#   start   reuse a broker already answering on the port, else install Debian's rabbitmq-server
#           (when missing) and start a node; either way check that `rabbitmqctl -n <node>` reaches
#           it and enable the management plugin (HTTP API on 127.0.0.1:$RABBITMQ_MANAGEMENT_PORT,
#           default 15672): the tests create and delete a vhost per test through that API, since
#           every rabbitmqctl call costs an Erlang VM start (~0.65 s of CPU)
#   stop    stop the node only if start started it (var/rabbitmq.started); a pre-existing broker
#           is left alone
#   status  exit 0 when the port answers, 3 when it does not
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MARKER="$VAR/rabbitmq.started"

ctl() { rabbitmqctl -q -n "$RABBITMQ_NODENAME" "$@"; }

# await_startup exits 69 while the node is still booting: retry for up to a minute.
await_node() { wait_for 60 eval 'ctl await_startup >/dev/null 2>&1' && wait_for 30 port_open "$RABBITMQ_PORT"; }

# True when the management API answers 200 for guest (bash's /dev/tcp, no curl needed).
api_ok() {
  local status
  status="$( (exec 3<>"/dev/tcp/127.0.0.1/$RABBITMQ_MANAGEMENT_PORT" \
    && printf 'GET /api/overview HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Basic Z3Vlc3Q6Z3Vlc3Q=\r\n\r\n' >&3 \
    && timeout 5 head -n 1 <&3) 2>/dev/null)" || return 1
  [[ "$status" == *" 200 "* ]]
}

# The management plugin, online (no restart), its listener on 127.0.0.1 only. A node this script
# starts gets the same listener from its boot arguments (start below).
enable_management() {
  if api_ok; then return 0; fi
  ctl eval "application:load(rabbitmq_management), application:set_env(rabbitmq_management, tcp_config, [{ip, \"127.0.0.1\"}, {port, $RABBITMQ_MANAGEMENT_PORT}])." >/dev/null \
    || die rabbitmq "could not configure the management listener on node $RABBITMQ_NODENAME"
  rabbitmq-plugins -q -n "$RABBITMQ_NODENAME" enable rabbitmq_management >/dev/null \
    || die rabbitmq "could not enable rabbitmq_management on node $RABBITMQ_NODENAME"
  wait_for 60 api_ok \
    || die rabbitmq "management API not answering on 127.0.0.1:$RABBITMQ_MANAGEMENT_PORT after 60 s"
  say rabbitmq "management API enabled (127.0.0.1:$RABBITMQ_MANAGEMENT_PORT)"
}

# A broker answers on the port: make sure rabbitmqctl reaches it too (the tests need it).
reuse() {
  if ! { command -v rabbitmqctl >/dev/null && ctl status >/dev/null 2>&1; }; then
    die rabbitmq "127.0.0.1:$RABBITMQ_PORT answers but 'rabbitmqctl -n $RABBITMQ_NODENAME status' cannot reach the node (tests need rabbitmqctl; set RABBITMQ_NODENAME)"
  fi
  if [ -f "$MARKER" ]; then say rabbitmq "reused (ours, node $RABBITMQ_NODENAME, 127.0.0.1:$RABBITMQ_PORT)"
  else say rabbitmq "reused (already running, node $RABBITMQ_NODENAME, 127.0.0.1:$RABBITMQ_PORT)"; fi
  enable_management
}

start() {
  if port_open "$RABBITMQ_PORT"; then reuse; return; fi
  if ! command -v rabbitmq-server >/dev/null; then
    apt_install rabbitmq-server
    say rabbitmq "installed rabbitmq-server (apt)"
    # Under systemd the package starts its own node; use it rather than starting a second one.
    if wait_for 5 port_open "$RABBITMQ_PORT"; then reuse; return; fi
  fi
  if ! ctl status >/dev/null 2>&1; then  # a node may be up without its listener yet
    as_root env RABBITMQ_NODENAME="$RABBITMQ_NODENAME" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
      RABBITMQ_NODE_PORT="$RABBITMQ_PORT" ERL_EPMD_ADDRESS="${ERL_EPMD_ADDRESS:-127.0.0.1}" \
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-rabbitmq_management tcp_config [{ip,\"127.0.0.1\"},{port,$RABBITMQ_MANAGEMENT_PORT}]" \
      rabbitmq-server -detached
    echo "$RABBITMQ_NODENAME" >"$MARKER"  # so that stop (infra/down.sh) stops this node and only it
  fi
  await_node || die rabbitmq "node $RABBITMQ_NODENAME not ready after 90 s (logs: /var/log/rabbitmq/)"
  say rabbitmq "started (node $RABBITMQ_NODENAME, 127.0.0.1:$RABBITMQ_PORT, guest/guest)"
  enable_management
}

stop() {
  if [ ! -f "$MARKER" ]; then
    say rabbitmq "left alone (not started by infra/)"
    return
  fi
  local node; node="$(cat "$MARKER")"
  if rabbitmqctl -q -n "$node" status >/dev/null 2>&1; then
    rabbitmqctl -q -n "$node" stop >/dev/null
    say rabbitmq "stopped (node $node)"
  else
    say rabbitmq "not running (node $node)"
  fi
  rm -f "$MARKER"
}

status() {
  if port_open "$RABBITMQ_PORT"; then say rabbitmq "running (node $RABBITMQ_NODENAME, 127.0.0.1:$RABBITMQ_PORT)"
  else say rabbitmq "not running (127.0.0.1:$RABBITMQ_PORT)"; return 3; fi
}

case "${1:-}" in
  start | stop | status) "$1" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
