"""Two real dispatch processes (`python -m dispatch_service`) on one queue with the seeded demo
engineers and the system clock: many jobs, each assigned once; then the demo's HTTP sequence."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from compressor_contracts import Priority
from compressor_kit.testing import eventually
from compressor_kit.testing.events import EventTap, publish_events
from compressor_kit.testing.ports import free_port

from .dispatch_support import bearer, job_requested

pytestmark = pytest.mark.slow

JOBS = 20


@pytest.fixture
def two_processes(test_settings, tmp_path):
    ports, processes = [free_port(), free_port()], []
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "RABBITMQ_URL": test_settings.rabbitmq_url.get_secret_value(),
        "MONGODB_DATABASE": test_settings.mongodb_database,
        "S3_BUCKET_PREFIX": test_settings.s3_bucket_prefix,
        "DISPATCH_SEED_ENGINEERS": "true",
        "SLA_ARRIVE_WITHIN_HOURS": '{"critical": 4, "high": 8, "normal": 24, "low": 96}',
    }
    for n, port in enumerate(ports):
        log = (tmp_path / f"dispatch-{n}.log").open("w")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "dispatch_service"],
                env={**env, "HTTP_PORT": str(port)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        deadline = time.monotonic() + 60
        for n, port in enumerate(ports):
            while True:
                assert processes[n].poll() is None, (tmp_path / f"dispatch-{n}.log").read_text()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "dispatch not ready within 60 s"
                time.sleep(0.2)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)


async def test_two_dispatch_processes_assign_each_job_once_and_serve_the_demo_sequence(
    two_processes, test_settings, test_db, tokens
):
    url = test_settings.rabbitmq_url.get_secret_value()
    first, second = two_processes

    async def seeded():
        return test_db.engineers.count_documents({}) == 4

    await eventually(seeded, timeout=30)
    now = datetime.now(UTC)
    requests = [job_requested(f"JOB-P{n:02d}", now, priority=Priority.LOW) for n in range(JOBS)]
    async with EventTap(url, "job.assigned.v1") as events:
        await publish_events(url, *requests)
        assigned = await events.take(JOBS, timeout=90)
    per_job = Counter(e.subject for e in assigned)
    assert set(per_job.values()) == {1} and len(per_job) == JOBS

    # The demo's sequence, through HTTP only, spread over both processes.
    dispatcher = bearer(tokens, "DSP-1", "dispatcher")
    async with httpx.AsyncClient(timeout=30) as http:
        job = (await http.get(f"{first}/jobs/JOB-P00", headers=dispatcher)).json()
        engineer = job["engineer"]["engineer_id"]
        commitment = {
            "arrive_by": (now + timedelta(hours=48)).isoformat(),
            "resolve_by": (now + timedelta(hours=96)).isoformat(),
        }
        async with EventTap(url, "job.prediagnosed.v1", "job.engineer_dispatched.v1", "job.assigned.v1") as events:
            response = await http.post(
                f"{second}/jobs/JOB-P00/prediagnosis",
                json={
                    "contacted_via": "phone",
                    "confirmed_symptoms": ["High discharge temperature trip"],
                    "suspected_causes": ["Clogged oil cooler"],
                    "likely_parts": [{"part_number": "2901-0776-00", "description": "Oil cooler kit", "quantity": 1}],
                    "commitment": commitment,
                },
                headers=bearer(tokens, engineer, "engineer"),
            )
            assert response.status_code == 201, response.text
            eta = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
            response = await http.post(
                f"{first}/jobs/JOB-P00/departure", json={"eta": eta}, headers=bearer(tokens, engineer, "engineer")
            )
            assert response.status_code == 201, response.text
            current = (await http.get(f"{first}/jobs/JOB-P01", headers=dispatcher)).json()["engineer"]["engineer_id"]
            other = "ENG-002" if current != "ENG-002" else "ENG-001"
            response = await http.post(
                f"{second}/jobs/JOB-P01/assignment",
                json={"engineer_id": other, "reason": "Customer asked for the engineer who knows the site"},
                headers=dispatcher,
            )
            assert response.status_code == 200, response.text
            got = await events.take(3)
        assert sorted(e.type.rsplit(".", 2)[-2] for e in got) == ["assigned", "engineer_dispatched", "prediagnosed"]
        unassigned = await http.get(f"{first}/jobs/unassigned?limit=10", headers=dispatcher)
        assert unassigned.status_code == 200 and unassigned.json()["total"] == 0
