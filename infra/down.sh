#!/usr/bin/env bash
# Stop what infra/up.sh started: our mosquitto, identity provider, mongod and moto_server, and RabbitMQ only if
# up.sh started it (var/rabbitmq.started). A broker that was already running is left alone. Idempotent.
# Data in var/mongodb/data and the provider's signing keys in var/idp/keys.json are kept (delete var/
# to start from scratch); the object store and the provider's sessions and registered accounts are
# gone once stopped.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/mosquitto.sh" stop
bash "$HERE/idp.sh" stop
bash "$HERE/objectstore.sh" stop
bash "$HERE/mongodb.sh" stop
bash "$HERE/rabbitmq.sh" stop
