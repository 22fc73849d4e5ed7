"""`make backup` (python -m reporting_service.backups.client): signs in as client `backups` with client
credentials, starts a backup on reporting, waits for its end and prints it; non-zero when it failed."""

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import jwt
import pytest
from litestar.testing import AsyncTestClient
from pymongo import MongoClient

from compressor_kit.http import create_app
from compressor_kit.objectstore import ObjectStore
from compressor_kit.settings import Settings
from compressor_kit.testing.ports import free_port
from reporting_service.app import SERVICE
from reporting_service.backups.client import main, run

from .reporting_story import settings_for


@pytest.fixture
def one_database(test_settings):
    """A small service-like database to back up; dropped afterwards."""
    name = f"{test_settings.mongodb_database}_intake"
    with MongoClient(test_settings.mongodb_url.get_secret_value()) as client:
        client[name].jobs.insert_many([{"_id": f"JOB-{i}", "priority": "high"} for i in range(25)])
        yield name
        client.drop_database(name)


def printed(captured: str) -> str:
    """What the client printed, without the service's JSON log lines (the app runs in this process)."""
    return "\n".join(line for line in captured.splitlines() if not line.startswith('{"time"'))


def as_client(test_settings, client_id: str):
    return test_settings.model_copy(update={"oidc_client_id": client_id})


async def test_the_backup_client_signed_in_as_backups_sees_its_backup_complete(
    test_settings, one_database, identity_provider, capsys
):
    token = await identity_provider.machine_token("backups")
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == "backups"
    settings = settings_for(test_settings, backup_databases=one_database)
    async with AsyncTestClient(create_app(SERVICE, settings)) as reporting, httpx.AsyncClient() as provider:
        status = await run(as_client(test_settings, "backups"), reporting, provider, poll_interval=0.1, timeout=30)
        out, err = map(printed, capsys.readouterr())
        assert status == 0, err
        backup_id = re.search(r"^backup (BK-\S+) started$", out, re.MULTILINE).group(1)
        stored = await reporting.get(f"/backups/{backup_id}", headers={"Authorization": f"Bearer {token}"})

    assert f"backup {backup_id} started" in out
    assert f"backup {backup_id} completed at" in out and "1 database(s), 25 document(s)" in out
    assert f"  {one_database}: 1 collection(s), 25 document(s)" in out
    assert "manifest s3://" in out
    assert stored.json()["status"] == "completed" and stored.json()["trigger"] == "on_demand"


async def test_the_backup_client_exits_non_zero_when_the_backup_fails_or_its_client_lacks_the_role(
    test_settings, one_database, identity_provider, capsys
):
    settings = settings_for(test_settings, backup_databases=one_database)
    app = create_app(SERVICE, settings)
    async with AsyncTestClient(app) as reporting, httpx.AsyncClient() as provider:
        refused = await run(as_client(test_settings, "demo-driver"), reporting, provider, poll_interval=0.1, timeout=30)
        err = printed(capsys.readouterr().err)
        assert refused == 1
        assert "reporting refused client 'demo-driver' (403): this route needs one of the roles: manager, admin" in err

        runtime = app.state.runtime
        working = runtime.objects
        runtime.objects = ObjectStore(settings.model_copy(update={"s3_endpoint": "127.0.0.1:9"}), ["backups"])
        try:
            failed = await run(as_client(test_settings, "backups"), reporting, provider, poll_interval=0.1, timeout=30)
        finally:
            runtime.objects = working
        out, err = map(printed, capsys.readouterr())
    assert failed == 1
    assert "started" in out and "completed" not in out
    assert " failed at stage export" in err


def test_make_backup_runs_against_the_reporting_process(test_settings, one_database, identity_provider, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "RABBITMQ_URL": test_settings.rabbitmq_url.get_secret_value(),
        "HTTP_PORT": str(port),
        "MONGODB_DATABASE": test_settings.mongodb_database,
        "S3_BUCKET_PREFIX": test_settings.s3_bucket_prefix,
        "BACKUP_DATABASES": one_database,
    }
    log = tmp_path / "reporting.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "reporting_service"], env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"reporting not ready: {log.read_text()[-2000:]}"
            time.sleep(0.1)
        client_env = {k: v for k, v in os.environ.items() if not k.startswith("OIDC_")}
        backup = subprocess.run(
            [sys.executable, "-m", "reporting_service.backups.client", "--url", url, "--poll-interval", "0.2"],
            env={**client_env, "OIDC_CLIENT_ID": "backups"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert backup.returncode == 0, backup.stderr
    assert " completed at " in backup.stdout and "25 document(s)" in backup.stdout


def test_the_backup_client_refuses_the_development_secret_in_production(capsys):
    production = Settings(environment="production", oidc_client_id="backups")
    assert main(["--url", "http://127.0.0.1:9"], production) == 1
    assert "OIDC_CLIENT_SECRET is the local provider's development secret" in capsys.readouterr().err
