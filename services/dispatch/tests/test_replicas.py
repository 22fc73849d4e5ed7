"""Two dispatch processes (two app instances) on one queue, many jobs: each job assigned once,
no engineer overbooked, redelivered requests change nothing."""

import asyncio
import itertools
from collections import Counter
from datetime import timedelta

from litestar.testing import AsyncTestClient

from compressor_contracts import Priority
from compressor_kit.http import create_app
from compressor_kit.testing import eventually
from compressor_kit.testing.events import EventTap, publish_events
from dispatch_service.app import SERVICE

from .dispatch_support import MONDAY_8, create_engineer, job_requested, outbox_flushed

JOBS = 30  # the roster below has 33 visit slots within the normal 24 h target


async def test_two_replicas_on_one_queue_assign_each_job_exactly_once(
    client, settings, clock, as_dispatcher, amqp_url, test_db
):
    engineers = [await create_engineer(client, as_dispatcher, f"Engineer {n}", capacity=4) for n in range(4)]
    await create_engineer(
        client,
        as_dispatcher,
        "Night Shift",
        capacity=6,
        shifts=[{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)],
    )
    requests = [job_requested(f"JOB-{n:03d}", MONDAY_8, priority=Priority.NORMAL) for n in range(JOBS)]
    async with AsyncTestClient(create_app(SERVICE, settings, clock=clock), timeout=30):
        async with EventTap(amqp_url, "job.assigned.v1", "job.sla_at_risk.v1") as events:
            # Every request published twice (as a relay does after a crash before marking it sent).
            await asyncio.gather(publish_events(amqp_url, *requests), publish_events(amqp_url, *requests))

            async def all_handled():
                return test_db.jobs.count_documents({}) == JOBS and test_db.inbox.count_documents({}) == JOBS

            await eventually(all_handled, timeout=60)
            await outbox_flushed(test_db, at_least=JOBS)
            published = await events.rest()

    # The relay publishes at least once: under load one replica's lease can run out mid-publish and the
    # other publish the same event again (same id; consumers skip it). Each job has one assignment event.
    per_job = Counter(subject for subject, _ in {(e.subject, e.id) for e in published})
    assert sorted(per_job) == sorted(r.subject for r in requests)
    assert set(per_job.values()) == {1}, per_job.most_common(3)
    assert all(e.type.endswith("job.assigned.v1") for e in published)
    for job in test_db.jobs.find({}):
        assert test_db.assignments.count_documents({"job_id": job["_id"]}) == 1
    # Nobody overbooked, no two visits of one engineer overlap.
    for day in test_db.engineer_days.find({}):
        bookings = sorted(day["bookings"], key=lambda b: b["start"])
        capacity = test_db.engineers.find_one({"_id": day["engineer_id"]})["capacity_per_day"]
        assert day["count"] == len(bookings) <= capacity, day
        for earlier, later in itertools.pairwise(bookings):
            assert earlier["end"] <= later["start"], day
    # Normal priority allows 24 h: four day-shift engineers and the night shift share the load.
    used = Counter(e.data.engineer.engineer_id for e in published)
    assert set(engineers) <= set(used)
    assert max(e.data.scheduled_window.start for e in published) <= MONDAY_8 + timedelta(hours=24)
