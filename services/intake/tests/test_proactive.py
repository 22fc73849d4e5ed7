"""The proactive maintenance scheduler: one request per due unit and period, however often it runs
and on however many replicas."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from litestar.testing import AsyncTestClient

from compressor_contracts import FollowUp, FollowUpKind
from compressor_kit.http import create_app
from compressor_kit.testing import eventually
from compressor_kit.testing.events import publish_events
from intake_service.app import SERVICE

from .intake_support import data_of, events_until, job_closed, open_file, phone_request


async def register(client, headers, file, **unit) -> str:
    body = {"site_id": file.site_id, "purchase_date": "2023-05-02", **unit}
    response = await client.post(f"/customers/{file.customer_id}/equipment", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["equipment_id"]


async def test_two_replicas_running_the_scheduler_repeatedly_raise_one_request_per_due_unit(
    settings, clock, people, events, amqp_url, test_db
):
    replica_a = AsyncTestClient(create_app(SERVICE, settings, clock=clock))
    replica_b = AsyncTestClient(create_app(SERVICE, settings, clock=clock))
    async with replica_a as a, replica_b as b:
        file = await open_file(a, people.reception)  # its GA 37 VSD+ is due on 2026-06-01: not yet
        overdue = await register(
            a,
            people.reception,
            file,
            model_code="AC-GA37VSD",
            serial_number="AII-1",
            last_service_on="2025-08-01",
            last_service_hours=15_000,
            running_hours=17_000,
        )  # due 2026-02-01
        due_soon = await register(
            a,
            people.reception,
            file,
            model_code="AC-GA37VSD",
            serial_number="AII-2",
            last_service_on="2025-09-10",
        )  # due 2026-03-10, within the 14-day lead
        by_hours = await register(
            a,
            people.reception,
            file,
            model_code="AC-GA11P",
            serial_number="AIP-3",
            last_service_on="2026-01-10",
            last_service_hours=1_000,
            running_hours=4_000,
        )  # due 2027-01-10 or at 5,000 h
        reading = await a.post(
            f"/equipment/{by_hours}/meter-readings",
            json={"running_hours": 5_200},
            headers=people.customer(file.customer_id),
        )
        assert reading.status_code == 200, reading.text

        async def run(client) -> list[str]:
            response = await client.post("/proactive/runs", headers=people.manager)
            assert response.status_code == 200, response.text
            return response.json()["raised"]

        raised = []
        for _ in range(3):
            rounds = await asyncio.gather(*(run(client) for client in (a, b, a, b, a, b)))
            raised += [job_id for round_ in rounds for job_id in round_]

        jobs = list(test_db.jobs.find({"channel": "proactive"}))
        assert sorted(job["equipment_id"] for job in jobs) == sorted([overdue, due_soon, by_hours])
        assert sorted(raised) == sorted(job["_id"] for job in jobs)
        assert test_db.outbox.count_documents({}) == 3
        by_unit = {job["equipment_id"]: job for job in jobs}
        assert by_unit[overdue]["priority"] == "normal"  # past its date
        assert by_unit[due_soon]["priority"] == "low"  # coming up
        assert by_unit[by_hours]["priority"] == "normal"  # hours reached
        assert by_unit[by_hours]["proactive_period"] == f"{by_hours}:2027-01-10/5000h"

        marker = await a.post("/requests", json=phone_request(file), headers=people.reception)
        published = await events_until(events, "job.requested.v1", marker.json()["job_id"])
        proactive = [data_of(e) for e in published if data_of(e)["channel"] == "proactive"]
        assert len(published) == 4 and len(proactive) == 3
        assert all(p["recorded_by"] is None and p["origin_reference"] for p in proactive)
        assert "Scheduled maintenance" in proactive[0]["fault_description"]

        # The service closes the overdue unit's period; the next period comes 6 months later.
        job_id = by_unit[overdue]["_id"]
        await publish_events(amqp_url, job_closed(job_id, file.customer_id, overdue))

        async def serviced():
            unit = test_db.equipment.find_one({"_id": overdue})
            return unit["next_service_due_on"] == "2026-09-03"

        await eventually(serviced, timeout=30)
        await asyncio.gather(run(a), run(b))
        assert test_db.jobs.count_documents({"equipment_id": overdue}) == 1

        clock.set(datetime(2026, 8, 25, 8, 0, tzinfo=UTC))  # within the lead time of 2026-09-03
        again = await asyncio.gather(run(a), run(b), run(a), run(b))
        new_jobs = list(test_db.jobs.find({"equipment_id": overdue, "_id": {"$ne": job_id}}))
        assert len(new_jobs) == 1
        assert new_jobs[0]["proactive_period"] == f"{overdue}:2026-09-03/27436h"
        assert [job_id for round_ in again for job_id in round_].count(new_jobs[0]["_id"]) == 1


async def test_the_periodic_scheduler_raises_the_request_on_its_own(settings, clock, people, test_db):
    fast = settings.model_copy(update={"proactive_scan_interval_seconds": 0.1})
    async with AsyncTestClient(create_app(SERVICE, fast, clock=clock)) as client:
        file = await open_file(client, people.reception, last_service_on="2025-08-01")

        async def raised():
            return test_db.jobs.count_documents({"equipment_id": file.equipment_id, "channel": "proactive"})

        assert await eventually(raised, timeout=30) == 1


async def test_only_management_runs_the_scheduler_by_hand(client, people):
    assert (await client.post("/proactive/runs", headers=people.reception)).status_code == 403
    assert (await client.post("/proactive/runs", headers=people.manager)).status_code == 200


async def test_a_follow_up_visit_planned_by_the_review_is_raised_once_when_due(
    settings, clock, people, events, amqp_url, test_db
):
    replica_a = AsyncTestClient(create_app(SERVICE, settings, clock=clock))
    replica_b = AsyncTestClient(create_app(SERVICE, settings, clock=clock))
    async with replica_a as a, replica_b as b:
        file = await open_file(a, people.reception)  # regular service due 2026-06-01: not yet
        job_id = (await a.post("/requests", json=phone_request(file), headers=people.reception)).json()["job_id"]
        visits = [
            FollowUp(
                kind=FollowUpKind.PROACTIVE_VISIT, description="Check the cooler again.", due_on=date(2026, 3, 12)
            ),
            FollowUp(kind=FollowUpKind.PROACTIVE_VISIT, description="Dry-season check.", due_on=date(2026, 5, 1)),
            FollowUp(
                kind=FollowUpKind.CUSTOMER_TRAINING, description="Train the night shift.", due_on=date(2026, 3, 5)
            ),
        ]
        closed = job_closed(job_id, file.customer_id, file.equipment_id, follow_ups=visits)
        await publish_events(amqp_url, closed)
        await publish_events(amqp_url, closed)  # redelivered: plans nothing twice

        async def planned():
            return test_db.follow_up_visits.count_documents({}) == 2 and test_db.inbox.count_documents({}) == 1

        await eventually(planned, timeout=30)

        async def run(client) -> list[str]:
            response = await client.post("/proactive/runs", headers=people.manager)
            assert response.status_code == 200, response.text
            return response.json()["raised"]

        rounds = await asyncio.gather(run(a), run(b), run(a), run(b))
        raised = [job for round_ in rounds for job in round_]
        assert len(raised) == 1  # 2026-03-12 is within the 14-day lead; 2026-05-01 is not yet
        job = test_db.jobs.find_one({"_id": raised[0]})
        assert job["channel"] == "proactive"
        assert "Check the cooler again." in job["requested"]["fault_description"]
        assert job["proactive_period"] == f"{file.equipment_id}:follow-up:{job_id}#0"

        whole = (await a.get(f"/customers/{file.customer_id}/file", headers=people.reception)).json()
        [unit] = whole["sites"][0]["equipment"]
        assert [(v["due_on"], v.get("job_id")) for v in unit["follow_up_visits"]] == [
            ("2026-03-12", raised[0]),
            ("2026-05-01", None),
        ]
        assert [j["job_id"] for j in whole["open_jobs"]] == raised
