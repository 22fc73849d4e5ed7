#!/usr/bin/env bash
# Install (when missing) and start the real servers the services and tests use, without Docker:
#   RabbitMQ      127.0.0.1:${RABBITMQ_PORT:-5672}   Debian's rabbitmq-server; a running broker is reused
#   MongoDB       127.0.0.1:${MONGODB_PORT:-27017}   single-node replica set rs0 (mongod from PyPI)
#   object store  127.0.0.1:${S3_PORT:-9000}         S3 API for the minio client (moto_server from PyPI)
#   identity      127.0.0.1:${IDP_PORT:-9400}        local OpenID Connect provider (oidc-provider from npm)
#   MQTT          127.0.0.1:${MQTT_PORT:-1883}        Debian's mosquitto, telemetry's development user
# Idempotent: whatever already answers on its port is reused. State lives under var/ (git-ignored).
# Stop with infra/down.sh; each server also has its own script:
# infra/{rabbitmq,mongodb,objectstore,idp,mosquitto}.sh.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/rabbitmq.sh" start
bash "$HERE/mongodb.sh" start
bash "$HERE/objectstore.sh" start
bash "$HERE/idp.sh" start
bash "$HERE/mosquitto.sh" start
