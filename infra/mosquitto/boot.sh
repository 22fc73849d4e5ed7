#!/bin/sh
# The Mosquitto container's entrypoint: telemetry's user is (re)written into the password file from the
# environment, keeping the gateways' users an operator added (infra/mosquitto/mosquitto.conf), then the
# image's own entrypoint hands the data folder to the mosquitto user and runs the broker.
set -eu
passwords=/mosquitto/data/passwords
touch "$passwords"
chmod 0600 "$passwords"
mosquitto_passwd -b "$passwords" telemetry "${TELEMETRY_MQTT_PASSWORD:?}"
exec /docker-entrypoint.sh "$@"
