"""MongoDB's users for docker-compose: the one-shot `mongo-users` service runs this with the project's
own image (there is no mongo shell in it, and none on the machines the tests run on):

    python infra/mongo/users.py

Signed in as the root user (MONGODB_ROOT_USER / MONGODB_ROOT_PASSWORD, created by the mongo image on
its first start), it initiates the single-node replica set if that has not happened yet, waits for a
writable primary, then creates one user per service in the admin database, or brings an existing one's
password and roles up to date (compose runs it on every `up`, so a changed password is applied):

- each service: readWrite on its own database only. That covers what the kit does there: documents,
  indexes, multi-document transactions and change streams on its own collections.
- reporting, which takes the backups: also read on every phase service's database (what a backup
  exports). Nothing may write another service's database; a restore is an operator's act, as root.

Environment: MONGODB_HOST (default mongo:27017, the member's address in the replica set config),
MONGODB_REPLICA_SET (default rs0), MONGODB_DATABASE_PREFIX (default empty, as the services'),
MONGODB_ROOT_USER, MONGODB_ROOT_PASSWORD, <SERVICE>_MONGODB_PASSWORD for every service, and
MONGODB_SETUP_TIMEOUT_SECONDS (default 120: mongod may still be restarting after its first-start set-up).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from pymongo import MongoClient
from pymongo.errors import ConnectionFailure, OperationFailure, ServerSelectionTimeoutError

from compressor_contracts.topology import PRODUCERS, SERVICES

ALREADY_INITIALIZED = 23
RETRYABLE = (ConnectionFailure, ServerSelectionTimeoutError)
BACKUP_TAKER = "reporting"
"""The service whose backups read every phase service's database."""


def roles_of(service: str, prefix: str = "") -> list[dict[str, str]]:
    """The roles of `service`'s user: its own database, and for reporting what its backups read."""
    roles = [{"role": "readWrite", "db": prefix + service}]
    if service == BACKUP_TAKER:
        roles += [{"role": "read", "db": prefix + other} for other in PRODUCERS if other != service]
    return roles


def password_variable(service: str) -> str:
    return f"{service.upper()}_MONGODB_PASSWORD"


def plan(environ: Mapping[str, str]) -> dict[str, tuple[str, list[dict[str, str]]]]:
    """user -> (password, roles) for every service, from the environment; refuses a missing password."""
    prefix = environ.get("MONGODB_DATABASE_PREFIX", "")
    missing = [password_variable(s) for s in SERVICES if not environ.get(password_variable(s))]
    if missing:
        raise SystemExit(f"mongo-users: set {', '.join(missing)}")
    return {service: (environ[password_variable(service)], roles_of(service, prefix)) for service in SERVICES}


def ensure_replica_set(client: MongoClient[dict[str, Any]], name: str, host: str, timeout: float) -> None:
    """Initiate the one-member replica set unless it is, then wait until this member is the primary."""
    try:
        client.admin.command("replSetInitiate", {"_id": name, "members": [{"_id": 0, "host": host}]})
        print(f"mongo-users: replica set {name} initiated with {host}")
    except OperationFailure as error:
        if error.code != ALREADY_INITIALIZED:
            raise
    deadline = time.monotonic() + timeout
    while not client.admin.command("hello").get("isWritablePrimary"):
        if time.monotonic() > deadline:
            raise SystemExit(f"mongo-users: no writable primary within {timeout:.0f} s")
        time.sleep(0.2)


def ensure_user(client: MongoClient[dict[str, Any]], user: str, password: str, roles: list[dict[str, str]]) -> str:
    """Create `user` in the admin database, or set its password and roles as given; what was done."""
    admin = client.admin
    if admin.command("usersInfo", user)["users"]:
        admin.command("updateUser", user, pwd=password, roles=roles)
        return "updated"
    admin.command("createUser", user, pwd=password, roles=roles)
    return "created"


def main(environ: Mapping[str, str]) -> int:
    users = plan(environ)
    host = environ.get("MONGODB_HOST", "mongo:27017")
    replica_set = environ.get("MONGODB_REPLICA_SET", "rs0")
    timeout = float(environ.get("MONGODB_SETUP_TIMEOUT_SECONDS", "120"))
    deadline = time.monotonic() + timeout
    while True:
        try:
            client: MongoClient[dict[str, Any]] = MongoClient(
                f"mongodb://{host}/?directConnection=true",
                username=environ.get("MONGODB_ROOT_USER") or None,
                password=environ.get("MONGODB_ROOT_PASSWORD") or None,
                authSource="admin",
                serverSelectionTimeoutMS=5000,
            )
            with client:
                ensure_replica_set(client, replica_set, host, timeout)
                for user, (password, roles) in users.items():
                    done = ensure_user(client, user, password, roles)
                    print(f"mongo-users: {user} {done}: " + ", ".join(f"{r['role']}@{r['db']}" for r in roles))
            return 0
        except RETRYABLE as error:
            # Right after its first start the image restarts mongod (root user created): try again.
            if time.monotonic() > deadline:
                print(f"mongo-users: MongoDB at {host} not reachable: {error}", file=sys.stderr)
                return 1
            time.sleep(1)


if __name__ == "__main__":
    sys.exit(main(os.environ))
