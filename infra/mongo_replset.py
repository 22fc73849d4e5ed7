"""Make the local mongod a ready single-node replica set, or tell which pid serves a data folder.

    python infra/mongo_replset.py initiate --port 27017 [--name rs0] [--timeout 60]
    python infra/mongo_replset.py pid --port 27017 --dbpath var/mongodb/data

Runs with var/infra-venv/bin/python (pymongo is installed there by infra/up.sh).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

ALREADY_INITIALIZED = 23


def client(port: int) -> MongoClient:
    return MongoClient(host="127.0.0.1", port=port, directConnection=True, serverSelectionTimeoutMS=2000)


def initiate(port: int, name: str, timeout: float) -> None:
    """replSetInitiate once (code 23 = already initiated), then wait until this node is writable primary."""
    deadline = time.monotonic() + timeout
    with client(port) as mongo:
        config = {"_id": name, "members": [{"_id": 0, "host": f"127.0.0.1:{port}"}]}
        while True:
            try:
                mongo.admin.command("replSetInitiate", config)
                break
            except OperationFailure as error:
                if error.code == ALREADY_INITIALIZED:
                    break
                raise
            except PyMongoError:  # not accepting connections yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.25)
        while True:
            try:
                hello = mongo.admin.command("hello")
                if hello.get("setName") != name:
                    sys.exit(f"mongod on :{port} is in replica set {hello.get('setName')!r}, expected {name!r}")
                if hello.get("isWritablePrimary"):
                    return
            except PyMongoError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"mongod on :{port} is not a writable primary after {timeout:.0f} s")
            time.sleep(0.2)


def pid_for(port: int, dbpath: str) -> None:
    """Print the pid of the mongod on the port if it serves this data folder (so it is ours to stop)."""
    with client(port) as mongo:
        options = mongo.admin.command("getCmdLineOpts")["parsed"]
        served = options.get("storage", {}).get("dbPath", "")
        if served and os.path.realpath(served) == os.path.realpath(dbpath):
            print(mongo.admin.command("serverStatus")["pid"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["initiate", "pid"])
    parser.add_argument("--port", type=int, default=27017)
    parser.add_argument("--name", default="rs0")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--dbpath", default="")
    args = parser.parse_args()
    if args.command == "initiate":
        initiate(args.port, args.name, args.timeout)
    else:
        pid_for(args.port, args.dbpath)


if __name__ == "__main__":
    main()
