"""Initiate the Kubernetes MongoDB replica set with all its members, once (the Job compressor-mongodb-users
runs it before infra/mongo/users.py, which then finds the set initiated and creates the services' users).

Signed in as the root user that the mongo image created on member 0's first start. Member 0 has the highest
priority, so it is the primary once the set is healthy: users.py waits for a writable primary on the member
it names (MONGODB_HOST). Environment: MONGODB_MEMBERS (comma-separated host:port, member 0 first),
MONGODB_REPLICA_SET, MONGODB_ROOT_USER, MONGODB_ROOT_PASSWORD, MONGODB_SETUP_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from pymongo import MongoClient
from pymongo.errors import ConnectionFailure, OperationFailure

ALREADY_INITIALIZED = 23


def configuration(name: str, members: list[str]) -> dict[str, Any]:
    """The set's configuration: member 0 preferred as primary, every member voting."""
    return {
        "_id": name,
        "members": [{"_id": i, "host": host, "priority": 2 if i == 0 else 1} for i, host in enumerate(members)],
    }


def main(environ: Mapping[str, str]) -> int:
    members = [host.strip() for host in environ["MONGODB_MEMBERS"].split(",") if host.strip()]
    name = environ.get("MONGODB_REPLICA_SET", "rs0")
    deadline = time.monotonic() + float(environ.get("MONGODB_SETUP_TIMEOUT_SECONDS", "300"))
    while True:
        try:
            with MongoClient(
                f"mongodb://{members[0]}/?directConnection=true",
                username=environ.get("MONGODB_ROOT_USER") or None,
                password=environ.get("MONGODB_ROOT_PASSWORD") or None,
                authSource="admin",
                serverSelectionTimeoutMS=5000,
            ) as client:
                client.admin.command("replSetInitiate", configuration(name, members))
                print(f"mongodb-replica-set: {name} initiated with {', '.join(members)}")
                return 0
        except OperationFailure as error:
            if error.code == ALREADY_INITIALIZED:
                print(f"mongodb-replica-set: {name} already initiated")
                return 0
            # Another member not reachable yet (its pod is still starting): try again until the deadline.
            failure: Exception = error
        except ConnectionFailure as error:
            failure = error
        if time.monotonic() > deadline:
            print(f"mongodb-replica-set: could not initiate {name}: {failure}", file=sys.stderr)
            return 1
        time.sleep(2)


if __name__ == "__main__":
    sys.exit(main(os.environ))
