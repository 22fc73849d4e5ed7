"""Losing a node: jobs run through the nine phases on a 3-node RabbitMQ cluster and a 3-member
MongoDB replica set of this test's own, while the RabbitMQ node that leads the services' queues is
stopped and, later, the MongoDB primary steps down and is killed. Every job completes with every
event exactly once (by event id), one record and one report; the recovery times are printed.

The services know every broker node (RABBITMQ_URL, RABBITMQ_URLS) and the replica set's members; the
integration's watcher listens on a node that stays up.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest
from minio import Minio

from compressor_kit.testing import eventually, ready_messages
from compressor_kit.testing.watcher import EventWatcher
from demo.flow import Office, run_job
from demo.stack import SERVICES, Stack, is_ready
from tests.faults.conftest import STACK_ENV, assert_every_event_once, assert_filed_once

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(420)]

JOBS = 2


class PatientClient(httpx.AsyncClient):
    """People try again a little later when a service answers 503 (MongoDB electing a primary)."""

    async def send(self, request, **kwargs):
        while True:
            response = await super().send(request, **kwargs)
            if response.status_code != 503:
                return response
            await response.aclose()
            await asyncio.sleep(0.5)


def print_warnings(stack: Stack, last: int = 25) -> None:
    """The services' last warnings and errors: what a failure here needs to be understood (the logs
    themselves are in the test's temporary directory, gone on CI)."""
    for log in sorted(stack.log_dir.glob("*.log")):
        lines = [
            line for line in log.read_text(errors="replace").splitlines() if '"WARNING"' in line or '"ERROR"' in line
        ]
        print(f"\n{log.name}: {len(lines)} warnings and errors, the last {min(last, len(lines))}:")
        for line in lines[-last:]:
            print("  ", line[:400])


async def test_jobs_complete_when_the_queue_leader_and_the_mongodb_primary_are_lost(
    cluster_settings, smtp_port, servers, tmp_path
):
    test_settings = cluster_settings
    cluster, replica_set = servers
    first, *others = cluster.nodes
    stack = Stack(
        rabbitmq_url=first.url,
        database_prefix=test_settings.mongodb_database_prefix,
        bucket_prefix=test_settings.s3_bucket_prefix,
        log_dir=tmp_path / "logs",
        env={
            **STACK_ENV,
            "SMTP_PORT": str(smtp_port),
            "RABBITMQ_URLS": ",".join(node.url for node in others),
            "MONGODB_URL": replica_set.url,
        },
    )
    survivor = others[-1]  # the integration listens here; its own queue is led here
    recovery: dict[str, float] = {}
    async with EventWatcher(survivor.url, durable=True) as watcher:
        with stack:
            async with PatientClient(timeout=60) as client:
                office = Office(stack.urls(), client, test_settings)
                await office.stock_parts_for(JOBS)
                await office.staff_engineers_for(JOBS)
                flows = [asyncio.create_task(run_job(office, n)) for n in range(1, JOBS + 1)]
                try:

                    async def seen(routing_key: str) -> bool:
                        for flow in flows:
                            if flow.done():
                                flow.result()
                        return any(e.data.routing_key() == routing_key for e in watcher.events)

                    async def progress_after(moment: datetime) -> bool:
                        """A job moved on: an event written after `moment` reached the integration."""
                        for flow in flows:
                            if flow.done():
                                flow.result()  # a job's flow that failed fails here, with its cause
                        return any(e.time > moment for e in watcher.events)

                    # 1. The RabbitMQ node leading the services' quorum queues stops.
                    await eventually(lambda: seen("job.engineer_dispatched.v1"), timeout=120, interval=0.1)
                    leaders = cluster.leaders(via=survivor)
                    of_services = Counter(
                        leader for queue, leader in leaders.items() if queue.split(".")[0] in SERVICES
                    )
                    leader = cluster.node_named(of_services.most_common(1)[0][0])
                    queues = cluster.queues(via=survivor)
                    single = [
                        q["name"] for q in queues if q["type"] != "quorum" or len(q["members"]) != len(cluster.nodes)
                    ]
                    assert not single, f"queues not replicated on every node: {queues}"
                    started = time.monotonic()
                    await asyncio.to_thread(leader.stop)
                    # Measured from the node being gone (its port closed): the first event written after
                    # that reaching the integration is the jobs moving on through the other nodes.
                    gone, stopped = datetime.now(UTC), time.monotonic()
                    recovery["rabbitmq: node stop took"] = stopped - started
                    await eventually(lambda: progress_after(gone), timeout=120, interval=0.05)
                    recovery["rabbitmq: node gone to next event"] = time.monotonic() - stopped
                    service_queues = [q for q in leaders if q.split(".")[0] in SERVICES]

                    async def leaders_moved() -> bool:
                        # A listing right after the loss may leave out a queue still electing its leader.
                        now_led = await asyncio.to_thread(cluster.leaders, via=survivor)
                        return all(q in now_led and now_led[q] != leader.node for q in service_queues)

                    await eventually(leaders_moved, timeout=60, interval=0.5)

                    async def all_ready() -> bool:
                        return all([await asyncio.to_thread(is_ready, stack.url(s)) for s in SERVICES])

                    await eventually(all_ready, timeout=60, interval=0.2)
                    print("\nqueues after the node stopped:", cluster.queues(via=survivor))
                    recovery["rabbitmq: node gone to every service ready"] = time.monotonic() - stopped

                    # 2. Later, the MongoDB primary steps down and is killed.
                    await eventually(lambda: seen("job.inspection_failed.v1"), timeout=180, interval=0.1)
                    primary = await asyncio.to_thread(replica_set.primary)
                    assert primary is not None
                    fault, started = datetime.now(UTC), time.monotonic()
                    await asyncio.to_thread(replica_set.step_down, primary)
                    await asyncio.to_thread(replica_set.kill, primary)

                    async def new_primary() -> bool:
                        return await asyncio.to_thread(replica_set.primary) not in (None, primary)

                    await eventually(new_primary, timeout=60, interval=0.1)
                    recovery["mongodb: fault to new primary"] = time.monotonic() - started
                    await eventually(lambda: progress_after(fault), timeout=120, interval=0.05)
                    recovery["mongodb: fault to next event"] = time.monotonic() - started

                    results = await asyncio.wait_for(asyncio.gather(*flows), timeout=300)
                except BaseException:
                    print_warnings(stack)
                    raise
                finally:
                    for flow in flows:
                        flow.cancel()
                    print("\nrecovery (seconds):", {k: round(v, 2) for k, v in recovery.items()})

                store = Minio(
                    test_settings.s3_endpoint,
                    access_key=test_settings.s3_access_key,
                    secret_key=test_settings.s3_secret_key.get_secret_value(),
                    secure=False,
                )
                for result in results:
                    job = result.job_id
                    await assert_every_event_once(watcher, job, redelivery_possible=True)
                    assert_filed_once(result)
                    record = await office.manager.get("reporting", f"/jobs/{job}/record")
                    assert record["status"] == "published" and record["version"] == 1
                    bucket = record["report"]["bucket"]
                    reports = [
                        o.object_name for o in store.list_objects(bucket, recursive=True) if job in o.object_name
                    ]
                    assert sorted(name.split("/")[-2] for name in reports) == ["en", "ms"], reports
                for service in SERVICES:
                    assert await ready_messages(survivor.url, f"{service}.dead-letters") == 0, service
                twice = sum(n - 1 for n in Counter(e.id for e in watcher.events).values())
                print(f"events at the integration: {len(watcher.events)}, sent again by a relay (same id): {twice}")
