#!/usr/bin/env bash
# Start or stop the six phase services, telemetry and the console as separate local processes; logs in var/log/,
# pids in var/run/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
SERVICES=(intake dispatch maintenance quality reporting feedback telemetry console)
declare -A PORTS=([intake]=8001 [dispatch]=8002 [maintenance]=8003 [quality]=8004 [reporting]=8005 [feedback]=8006 [telemetry]=8007 [console]=8000)
mkdir -p var/log var/run

running() { [ -f "var/run/$1.pid" ] && kill -0 "$(cat "var/run/$1.pid")" 2>/dev/null; }

MAIL_PORT="${MAIL_PORT:-8025}"
# The local stack, said explicitly: without ENVIRONMENT a service is in production and refuses the
# development defaults (the local provider, the guest broker account, the dev object-store key).
export ENVIRONMENT="${ENVIRONMENT:-local}"
# Telemetry reads the site gateways' readings from the local Mosquitto (infra/mosquitto.sh) as its
# development user; the other services are given no MQTT settings.
MQTT_PORT="${MQTT_PORT:-1883}"
telemetry_env=(MQTT_URL="mqtt://127.0.0.1:$MQTT_PORT" MQTT_USERNAME=telemetry MQTT_PASSWORD=local-development-password)

# A local mail sink for the e-mails feedback sends (aiosmtpd prints each one to var/log/mail.log).
start_mail() {
  if [ -f var/run/mail.pid ] && kill -0 "$(cat var/run/mail.pid)" 2>/dev/null; then return; fi
  nohup .venv/bin/python -m aiosmtpd -n -l "127.0.0.1:$MAIL_PORT" >>var/log/mail.log 2>&1 &
  echo $! >var/run/mail.pid
  echo "mail sink: started (pid $!, smtp 127.0.0.1:$MAIL_PORT, log var/log/mail.log)"
}

start() {
  start_mail
  for s in "${SERVICES[@]}"; do
    if running "$s"; then echo "$s: already running (pid $(cat "var/run/$s.pid"))"; continue; fi
    extra=()
    if [ "$s" = telemetry ]; then extra=("${telemetry_env[@]}"); fi
    env HTTP_PORT="${PORTS[$s]}" SMTP_PORT="${SMTP_PORT:-$MAIL_PORT}" "${extra[@]}" \
      nohup .venv/bin/python -m "${s}_service" >>"var/log/$s.log" 2>&1 &
    echo $! >"var/run/$s.pid"
    echo "$s: started (pid $!, port ${PORTS[$s]}, log var/log/$s.log)"
  done
  for s in "${SERVICES[@]}"; do
    for _ in $(seq 1 120); do
      if curl -fsS "http://127.0.0.1:${PORTS[$s]}/health/ready" >/dev/null 2>&1; then break; fi
      if ! running "$s"; then echo "$s: exited; last log lines:"; tail -n 20 "var/log/$s.log"; exit 1; fi
      sleep 0.5
    done
    curl -fsS "http://127.0.0.1:${PORTS[$s]}/health/ready" >/dev/null || { echo "$s: not ready after 60 s"; exit 1; }
  done
}

stop() {
  for s in "${SERVICES[@]}"; do
    if running "$s"; then
      kill -TERM "$(cat "var/run/$s.pid")"
      for _ in $(seq 1 40); do running "$s" || break; sleep 0.25; done
      running "$s" && kill -KILL "$(cat "var/run/$s.pid")"
      echo "$s: stopped"
    fi
    rm -f "var/run/$s.pid"
  done
  if [ -f var/run/mail.pid ]; then kill "$(cat var/run/mail.pid)" 2>/dev/null || true; rm -f var/run/mail.pid; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
