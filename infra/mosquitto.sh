#!/usr/bin/env bash
# Mosquitto, the MQTT broker site gateways publish readings to, on 127.0.0.1:$MQTT_PORT (default 1883).
# Debian's mosquitto (installed when missing), with the access list compose's broker has
# (infra/mosquitto/acl: telemetry reads gateways/+/readings, a gateway writes only its own topic) and a
# password file of the development user telemetry / local-development-password (infra/services.sh gives
# telemetry that MQTT_URL and those credentials). Add a gateway's user for a local try:
#   mosquitto_passwd -b var/mosquitto/passwords <gateway id> <password>; infra/mosquitto.sh reload
#   start   reuse whatever already listens on the port, else write var/mosquitto/ and start mosquitto
#   stop    stop the mosquitto of var/mosquitto/mosquitto.pid; leave anything else alone
#   reload  read the password file and access list again (SIGHUP)
#   status  exit 0 when the port answers, 3 when it does not
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DIR="$VAR/mosquitto"
PIDFILE="$DIR/mosquitto.pid"
LOG="$DIR/mosquitto.log"
MOSQUITTO=/usr/sbin/mosquitto
DEV_USER=telemetry
DEV_PASSWORD=local-development-password  # development only: a production service never uses it
DEMO_GATEWAY=GW-DEMO  # the demo's site gateway (make demo), same development password

write_config() {
  mkdir -p "$DIR"
  local passwords="$DIR/passwords"
  [ -f "$passwords" ] || : >"$passwords"
  chmod 0600 "$passwords"
  mosquitto_passwd -b "$passwords" "$DEV_USER" "$DEV_PASSWORD"
  mosquitto_passwd -b "$passwords" "$DEMO_GATEWAY" "$DEV_PASSWORD"
  # Started as root, mosquitto would switch to the user `mosquitto`, which cannot read var/: it stays
  # the user that started it. Persistence keeps telemetry's session and unacknowledged readings.
  cat >"$DIR/mosquitto.conf" <<CONF
user $(id -un)
per_listener_settings false
allow_anonymous false
password_file $passwords
acl_file $ROOT/infra/mosquitto/acl
listener $MQTT_PORT 127.0.0.1
persistence true
persistence_location $DIR/
max_queued_messages 100000
log_dest stderr
log_type error
log_type warning
CONF
}

start() {
  if port_open "$MQTT_PORT"; then
    if pid_alive "$PIDFILE" mosquitto; then
      say mosquitto "reused (ours, pid $(cat "$PIDFILE"), mqtt://127.0.0.1:$MQTT_PORT)"
    else
      say mosquitto "reused (already listening on 127.0.0.1:$MQTT_PORT; its users are its own)"
    fi
    return
  fi
  if [ ! -x "$MOSQUITTO" ]; then
    apt_install mosquitto mosquitto-clients
    say mosquitto "installed mosquitto (apt)"
    # Under systemd the package starts its own broker on 1883 (anonymous, this host only): not ours.
    if wait_for 5 port_open "$MQTT_PORT"; then
      die mosquitto "Debian's own mosquitto took 127.0.0.1:$MQTT_PORT: stop it (systemctl disable --now mosquitto) and run this again"
    fi
  fi
  write_config
  setsid nohup "$MOSQUITTO" -c "$DIR/mosquitto.conf" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  if ! wait_for 30 port_open "$MQTT_PORT"; then
    tail -n 20 "$LOG" >&2
    die mosquitto "mosquitto did not listen on :$MQTT_PORT within 30 s (log: var/mosquitto/mosquitto.log)"
  fi
  say mosquitto "started (pid $(cat "$PIDFILE"), mqtt://127.0.0.1:$MQTT_PORT, user $DEV_USER)"
}

stop() {
  if pid_alive "$PIDFILE" mosquitto; then
    local pid; pid="$(cat "$PIDFILE")"
    stop_pid "$pid" 20
    rm -f "$PIDFILE"
    say mosquitto "stopped (pid $pid)"
  elif port_open "$MQTT_PORT"; then
    rm -f "$PIDFILE"
    say mosquitto "left alone (127.0.0.1:$MQTT_PORT was not started by infra/)"
  else
    rm -f "$PIDFILE"
    say mosquitto "not running"
  fi
}

reload() {
  pid_alive "$PIDFILE" mosquitto || die mosquitto "not running (not started by infra/)"
  kill -HUP "$(cat "$PIDFILE")"
  say mosquitto "reloaded the password file and access list (pid $(cat "$PIDFILE"))"
}

status() {
  if port_open "$MQTT_PORT"; then
    if pid_alive "$PIDFILE" mosquitto; then say mosquitto "running (ours, pid $(cat "$PIDFILE"), :$MQTT_PORT)"
    else say mosquitto "running (:$MQTT_PORT, not started by infra/)"; fi
  else
    say mosquitto "not running (:$MQTT_PORT)"; return 3
  fi
}

case "${1:-}" in
  start | stop | reload | status) "$1" ;;
  *) echo "usage: $0 start|stop|reload|status" >&2; exit 2 ;;
esac
