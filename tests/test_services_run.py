"""The six services run as separate processes (`python -m <service>_service`) on the real servers."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from pymongo import MongoClient

from compressor_contracts import SERVICES, service_topology
from compressor_kit.testing import queue_types
from compressor_kit.testing.ports import free_port

pytestmark = pytest.mark.slow


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_all_six_services_start_as_processes_declare_their_queues_and_stop_cleanly(test_settings, tmp_path):
    url = test_settings.rabbitmq_url.get_secret_value()
    databases = {name: f"{test_settings.mongodb_database}_{name}" for name in SERVICES}
    processes = {}
    try:
        for name in SERVICES:
            port = free_port()
            env = {
                **os.environ,
                "ENVIRONMENT": "test",
                "RABBITMQ_URL": url,
                "HTTP_PORT": str(port),
                "MONGODB_DATABASE": databases[name],
                "S3_BUCKET_PREFIX": test_settings.s3_bucket_prefix,
            }
            log = (tmp_path / f"{name}.log").open("w")
            processes[name] = (
                port,
                subprocess.Popen(
                    [sys.executable, "-m", f"{name}_service"], env=env, stdout=log, stderr=subprocess.STDOUT
                ),
            )
        deadline = time.monotonic() + 60
        waiting = set(SERVICES)
        while waiting and time.monotonic() < deadline:
            for name in list(waiting):
                port, process = processes[name]
                assert process.poll() is None, (tmp_path / f"{name}.log").read_text()
                if ready(port):
                    waiting.discard(name)
            time.sleep(0.2)
        assert not waiting, f"not ready after 60 s: {waiting}"

        declared = queue_types(url)
        for name in SERVICES:
            topology = service_topology(name)
            for queue in [*(q.name for q in topology.queues), topology.dead_letter_queue]:
                assert declared.get(queue) == "quorum", queue
    finally:
        for _port, process in processes.values():
            process.send_signal(signal.SIGTERM)
        exit_codes = {name: process.wait(timeout=30) for name, (_port, process) in processes.items()}
        with MongoClient(test_settings.mongodb_url.get_secret_value()) as client:
            for database in databases.values():
                client.drop_database(database)
    # uvicorn re-raises SIGTERM after its graceful shutdown; the log shows each service stopped cleanly
    assert set(exit_codes.values()) <= {0, -signal.SIGTERM}, exit_codes
    for name in SERVICES:
        assert f'"message": "{name} stopped"' in (tmp_path / f"{name}.log").read_text(), name
