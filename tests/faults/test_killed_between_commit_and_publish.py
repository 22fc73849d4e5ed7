"""A service SIGKILLed between its database commit and its publish; restarted, the job completes
with every event exactly once.

Quality is the victim, started through `compressor_kit.testing.faults`: its relay kills its own
process just before publishing `job.inspection_failed.v1`, after the inspector's result committed. Nothing moves
the job on until that event is out: maintenance waits for it to reopen the work order for rework.
"""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest
from pymongo import MongoClient

from compressor_kit.testing import eventually
from compressor_kit.testing.watcher import EventWatcher
from demo.flow import Office, run_job
from demo.stack import Stack

from .conftest import STACK_ENV, assert_every_event_once, assert_filed_once

pytestmark = pytest.mark.slow

VICTIM, EVENT = "quality", "job.inspection_failed.v1"


async def test_a_service_killed_between_commit_and_publish_loses_and_doubles_nothing(
    test_settings, database_prefix, smtp_port, tmp_path
):
    amqp_url = test_settings.rabbitmq_url.get_secret_value()
    stack = Stack(
        rabbitmq_url=amqp_url,
        database_prefix=database_prefix,
        bucket_prefix=test_settings.s3_bucket_prefix,
        log_dir=tmp_path / "logs",
        env={**STACK_ENV, "SMTP_PORT": str(smtp_port)},
        commands={VICTIM: ["-m", "compressor_kit.testing.faults", VICTIM, EVENT]},
    )
    mongo = MongoClient(test_settings.mongodb_url.get_secret_value())
    outbox = mongo[f"{database_prefix}{VICTIM}"]["outbox"]
    async with EventWatcher(amqp_url) as watcher:
        with stack:
            async with httpx.AsyncClient(timeout=30) as client:
                office = Office(stack.urls(), client, test_settings)
                await office.stock_parts_for(1)
                flow = asyncio.create_task(run_job(office))
                victim = stack.process(VICTIM)

                async def killed():
                    return victim.process.poll() is not None or (flow.done() and flow.result())

                await eventually(killed, timeout=240, interval=0.2)
                assert victim.process.returncode == -signal.SIGKILL, victim.log.read_text()[-2000:]
                # Committed, not published: the event waits in the dead service's outbox.
                pending = outbox.find_one({"routing_key": EVENT})
                assert pending and pending["status"] == "pending", pending
                job = pending["subject"]
                assert EVENT not in watcher.types(job)
                assert not flow.done()

                await asyncio.to_thread(stack.restart, VICTIM, command=["-m", f"{VICTIM}_service"])
                result = await asyncio.wait_for(flow, timeout=300)
                assert result.job_id == job
                await assert_every_event_once(watcher, job)
                assert_filed_once(result)
                assert outbox.count_documents({"status": "pending"}) == 0
                assert [e.id for e in watcher.of_job(job) if e.data.routing_key() == EVENT] == [pending["_id"]]
                record = await office.manager.get("reporting", f"/jobs/{job}/record")
                assert record["status"] == "published" and record["version"] == 1
                inspections = await office.inspector.get("quality", "/inspections", params={"job_id": job})
                assert sorted(i["round"] for i in inspections["items"]) == [1, 2]
    mongo.close()
