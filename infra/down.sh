#!/usr/bin/env bash
# Stop what infra/up.sh started: our mongod and moto_server, and RabbitMQ only if up.sh started it
# (var/rabbitmq.started). A broker that was already running is left alone. Idempotent.
# Data in var/mongodb/data is kept (delete var/ to start from scratch); the object store keeps
# nothing once stopped.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/objectstore.sh" stop
bash "$HERE/mongodb.sh" stop
bash "$HERE/rabbitmq.sh" stop
