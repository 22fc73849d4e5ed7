#!/bin/bash
# The mongo container's entrypoint (docker-compose.yml): writes the replica set's keyfile from
# MONGODB_KEYFILE_SECRET (mongod wants it owned by its user and readable by nobody else), then hands over
# to the image's own entrypoint. That one creates the root user from MONGO_INITDB_ROOT_USERNAME/PASSWORD
# on the first start and runs mongod with the given arguments (--auth --keyFile ... --replSet rs0).
# infra/mongo/users.py (the mongo-users service) initiates the replica set and creates the services' users.
set -euo pipefail
key=/data/configdb/replica.key
umask 077
printf '%s\n' "${MONGODB_KEYFILE_SECRET:?set MONGODB_KEYFILE_SECRET (6-1024 base64 characters)}" >"$key"
unset MONGODB_KEYFILE_SECRET
chmod 400 "$key"
chown mongodb:mongodb "$key"
exec docker-entrypoint.sh "$@"
