"""RabbitMQ restarted in the middle of a job: the services reconnect (consumers, publishers, outbox
relays) and the job completes with every event exactly once.

The stack and the integration's watcher use a RabbitMQ node of this test's own, stopped and started
again once the on-site diagnosis is published; the shared broker is never touched.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from compressor_kit.testing import eventually
from compressor_kit.testing.watcher import EventWatcher
from demo.flow import Office, run_job
from demo.stack import SERVICES, Stack, is_ready

from .conftest import STACK_ENV, assert_every_event_once, assert_filed_once
from .servers import RabbitNode

pytestmark = pytest.mark.slow


@pytest.fixture
def rabbit():
    node = RabbitNode()
    node.start()
    yield node
    node.remove()


async def test_the_job_completes_across_a_rabbitmq_restart(test_settings, database_prefix, smtp_port, rabbit, tmp_path):
    stack = Stack(
        rabbitmq_url=rabbit.url,
        database_prefix=database_prefix,
        bucket_prefix=test_settings.s3_bucket_prefix,
        log_dir=tmp_path / "logs",
        env={**STACK_ENV, "SMTP_PORT": str(smtp_port)},
    )
    async with EventWatcher(rabbit.url, durable=True) as watcher:
        with stack:
            async with httpx.AsyncClient(timeout=60) as client:
                office = Office(stack.urls(), client, test_settings)
                await office.stock_parts_for(1)
                flow = asyncio.create_task(run_job(office))
                try:

                    async def diagnosed():
                        if flow.done():
                            flow.result()
                        return next((e.subject for e in watcher.events if e.type.endswith("diagnosed.v1")), None)

                    job = await eventually(diagnosed, timeout=240, interval=0.1)
                    await asyncio.to_thread(rabbit.stop)

                    async def all_unready():
                        answers = [await asyncio.to_thread(is_ready, stack.url(s)) for s in SERVICES]
                        return not any(answers)

                    await eventually(all_unready, timeout=60, interval=0.5)
                    await asyncio.to_thread(rabbit.start)

                    async def all_ready():
                        return all([await asyncio.to_thread(is_ready, stack.url(s)) for s in SERVICES])

                    await eventually(all_ready, timeout=120, interval=0.5)
                    result = await asyncio.wait_for(asyncio.shield(flow), timeout=300)
                finally:
                    flow.cancel()
                assert result.job_id == job
                await assert_every_event_once(watcher, job, redelivery_possible=True)
                assert_filed_once(result)
                record = await office.manager.get("reporting", f"/jobs/{job}/record")
                assert record["status"] == "published" and record["version"] == 1
