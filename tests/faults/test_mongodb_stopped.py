"""MongoDB stopped in the middle of a job: every service's readiness answers 503, writes get 503
problem+json and leave nothing behind; when MongoDB returns, the work resumes by itself and the job
completes with every event exactly once.

The stack gets a single-node replica set of its own. While it is down, reporting (frozen with
SIGSTOP just before, so that events pile up in its queue) is thawed and must consume those events
against the missing database: it may neither lose them nor give up on them.
"""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest
from pymongo import MongoClient

from compressor_kit.testing import eventually, ready_messages
from compressor_kit.testing.watcher import EventWatcher
from demo.flow import Office, run_job
from demo.stack import SERVICES, Stack

from .conftest import STACK_ENV, assert_every_event_once, assert_filed_once
from .servers import Mongod

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 12  # longer than a consumer's whole retry budget (5 attempts, backoff from 0.2 s)


class PatientClient(httpx.AsyncClient):
    """People try again a little later when a service answers 503."""

    async def send(self, request, **kwargs):
        while True:
            response = await super().send(request, **kwargs)
            if response.status_code != 503:
                return response
            await response.aclose()
            await asyncio.sleep(0.5)


@pytest.fixture
def mongod(tmp_path):
    server = Mongod(tmp_path / "mongod")
    server.start()
    yield server
    server.stop()


async def test_mongodb_stopped_mid_job_answers_503_writes_nothing_and_the_job_resumes_when_it_returns(
    test_settings, mongod, smtp_port, tmp_path
):
    amqp_url = test_settings.rabbitmq_url.get_secret_value()
    stack = Stack(
        rabbitmq_url=amqp_url,
        database_prefix="faults_",
        bucket_prefix=test_settings.s3_bucket_prefix,
        log_dir=tmp_path / "logs",
        env={**STACK_ENV, "SMTP_PORT": str(smtp_port), "MONGODB_URL": mongod.url, "MONGODB_TIMEOUT_MS": "1000"},
    )
    async with EventWatcher(amqp_url) as watcher:
        with stack:
            async with PatientClient(timeout=60) as client, httpx.AsyncClient(timeout=60) as direct:
                office = Office(stack.urls(), client, test_settings)
                await office.stock_parts_for(1)
                flow = asyncio.create_task(run_job(office))

                async def seen(routing_key):
                    if flow.done():
                        flow.result()
                    return next((e.subject for e in watcher.events if e.data.routing_key() == routing_key), None)

                await eventually(lambda: seen("job.engineer_dispatched.v1"), timeout=240, interval=0.1)
                reporting = stack.process("reporting").process
                reporting.send_signal(signal.SIGSTOP)
                job = await eventually(lambda: seen("job.engineer_arrived.v1"), timeout=240, interval=0.1)
                await asyncio.to_thread(mongod.stop)
                reporting.send_signal(signal.SIGCONT)
                down_since = asyncio.get_running_loop().time()

                for service in SERVICES:
                    ready = await direct.get(f"{stack.url(service)}/health/ready")
                    assert ready.status_code == 503, (service, ready.text)
                    assert ready.json()["checks"]["mongodb"].startswith("unavailable"), ready.text
                reception = office.reception
                write = await direct.post(
                    f"{stack.url('intake')}/customers",
                    json={
                        "name": "Written during the outage",
                        "contacts": [{"name": "Nobody", "role": "none", "phone": "+60 3-1234 5678"}],
                    },
                    headers=await reception.headers(),
                )
                assert write.status_code == 503, write.text
                assert write.headers["content-type"].startswith("application/problem+json")
                assert write.json()["status"] == 503

                # The events that piled up while reporting was frozen are now in its hands, unwritable.
                async def taken_by_reporting():
                    return await ready_messages(amqp_url, "reporting.timeline") == 0

                await eventually(taken_by_reporting, timeout=30, interval=0.2)
                await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (asyncio.get_running_loop().time() - down_since)))
                await asyncio.to_thread(mongod.start)

                result = await asyncio.wait_for(asyncio.shield(flow), timeout=300)
                assert result.job_id == job
                await assert_every_event_once(watcher, job)
                assert_filed_once(result)
                for service in SERVICES:
                    assert (await direct.get(f"{stack.url(service)}/health/ready")).status_code == 200
                    assert await ready_messages(amqp_url, f"{service}.dead-letters") == 0, service
                with MongoClient(mongod.url) as mongo:
                    intake = mongo["faults_intake"]
                    assert intake["customers"].count_documents({"name": "Written during the outage"}) == 0
                    assert intake["outbox"].count_documents({"type": {"$regex": "customer"}, "status": "pending"}) == 0
                    for service in SERVICES:
                        assert mongo[f"faults_{service}"]["outbox"].count_documents({"status": "pending"}) == 0
