"""The SLA monitor on the manual clock: at-risk and breach once each per job and deadline, met
deadlines stay quiet, cancelled jobs stop, two replicas never double an alert."""

import asyncio
from datetime import timedelta

from litestar.testing import AsyncTestClient

from compressor_contracts import Priority
from compressor_kit.http import create_app
from compressor_kit.testing import eventually
from compressor_kit.testing.events import EventTap, publish_events
from dispatch_service.app import SERVICE

from .dispatch_support import (
    MONDAY_8,
    assigned_job,
    bearer,
    create_engineer,
    followed_by,
    job_requested,
    outbox_flushed,
)

ALERTS = ("job.sla_at_risk.v1", "job.sla_breached.v1")


async def committed_critical_job(client, as_dispatcher, amqp_url, test_db, tokens, job_id: str) -> str:
    """A critical job committed to arrive by 08:00+4h and resolve by 08:00+20h."""
    engineer = await assigned_job(client, as_dispatcher, amqp_url, test_db, job_id, priority=Priority.CRITICAL)
    body = {
        "contacted_via": "online",
        "confirmed_symptoms": ["No pressure build-up"],
        "suspected_causes": ["Inlet valve stuck closed"],
        "commitment": {
            "arrive_by": (MONDAY_8 + timedelta(hours=4)).isoformat(),
            "resolve_by": (MONDAY_8 + timedelta(hours=20)).isoformat(),
        },
    }
    response = await client.post(
        f"/jobs/{job_id}/prediagnosis", json=body, headers=bearer(tokens, engineer, "engineer")
    )
    assert response.status_code == 201, response.text
    return engineer


async def check(client, headers) -> dict:
    response = await client.post("/sla/checks", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_at_risk_and_breach_fire_once_each_per_deadline_driven_by_the_clock(
    client, clock, as_dispatcher, amqp_url, test_db, tokens
):
    await create_engineer(client, as_dispatcher, "Lim Wei Jie")
    engineer = await committed_critical_job(client, as_dispatcher, amqp_url, test_db, tokens, "JOB-S1")
    async with EventTap(amqp_url, *ALERTS) as events:
        assert await check(client, as_dispatcher) == {"at_risk": 0, "breached": 0}

        clock.advance(timedelta(hours=3, minutes=1))  # 75% of the 4 h to arrive-by is gone
        assert await check(client, as_dispatcher) == {"at_risk": 1, "breached": 0}
        assert await check(client, as_dispatcher) == {"at_risk": 0, "breached": 0}
        [at_risk] = await events.take(1)
        assert at_risk.data.deadline == "arrive_by" and at_risk.data.reason == "deadline_approaching"
        assert at_risk.data.due_at == MONDAY_8 + timedelta(hours=4)
        assert at_risk.data.engineer.engineer_id == engineer
        assert at_risk.data.priority == "critical"
        assert "arrive_by" in at_risk.data.detail

        clock.advance(timedelta(hours=1))  # arrive-by passed without job.engineer_arrived
        assert await check(client, as_dispatcher) == {"at_risk": 0, "breached": 1}
        assert await check(client, as_dispatcher) == {"at_risk": 0, "breached": 0}
        [breached] = await events.take(1)
        assert breached.type.endswith("job.sla_breached.v1")
        assert breached.data.deadline == "arrive_by" and breached.data.due_at == MONDAY_8 + timedelta(hours=4)

        clock.advance(timedelta(hours=11))  # 75% of the 20 h to resolve-by: 15 h after the request
        assert await check(client, as_dispatcher) == {"at_risk": 1, "breached": 0}
        clock.advance(timedelta(hours=6))
        assert await check(client, as_dispatcher) == {"at_risk": 0, "breached": 1}
        assert await check(client, as_dispatcher) == {"at_risk": 0, "breached": 0}
        resolve_alerts = await events.take(2)
        assert [e.data.deadline for e in resolve_alerts] == ["resolve_by", "resolve_by"]
        assert [e.type.rsplit(".", 2)[-2] for e in resolve_alerts] == ["sla_at_risk", "sla_breached"]
        await outbox_flushed(test_db)
        assert await events.rest() == []


async def test_the_matching_events_meet_the_deadlines_and_cancelled_jobs_raise_nothing(
    client, clock, as_dispatcher, amqp_url, test_db, tokens
):
    await create_engineer(client, as_dispatcher, "Lim Wei Jie", capacity=6)
    await committed_critical_job(client, as_dispatcher, amqp_url, test_db, tokens, "JOB-MET")
    await committed_critical_job(client, as_dispatcher, amqp_url, test_db, tokens, "JOB-CANCEL")
    request = job_requested("JOB-MET", MONDAY_8)
    await publish_events(
        amqp_url,
        followed_by(request, "job.engineer_arrived.v1", arrived_at=MONDAY_8 + timedelta(hours=2)),
        followed_by(request, "job.inspection_passed.v1"),
        followed_by(job_requested("JOB-CANCEL", MONDAY_8), "job.cancelled.v1"),
    )

    async def tracked():
        met = test_db.jobs.find_one({"_id": "JOB-MET"})
        cancelled = test_db.jobs.find_one({"_id": "JOB-CANCEL"})
        return (
            met["sla"]["resolve_by"]["met_at"]
            and met["sla"]["arrive_by"]["met_at"]
            and (cancelled["status"] == "cancelled")
        )

    await eventually(tracked, timeout=30)
    met = test_db.jobs.find_one({"_id": "JOB-MET"})
    assert met["sla"]["arrive_by"]["met_at"] == MONDAY_8 + timedelta(hours=2)
    assert met["status"] == "resolved"
    # The cancelled job's booking is released.
    day = test_db.engineer_days.find_one({"day": "2030-01-07"})
    assert [b["job_id"] for b in day["bookings"]] == ["JOB-MET"]
    async with EventTap(amqp_url, *ALERTS) as events:
        clock.advance(timedelta(days=2))
        assert await check(client, as_dispatcher) == {"at_risk": 0, "breached": 0}
        await outbox_flushed(test_db)
        assert await events.rest() == []
    # A cancelled job cannot be pre-diagnosed or reassigned.
    refused = await client.post(
        "/jobs/JOB-CANCEL/assignment", json={"engineer_id": "ENG-001", "reason": "x"}, headers=as_dispatcher
    )
    assert refused.status_code == 409


async def test_a_job_cancelled_before_its_request_arrives_is_never_assigned(client, as_dispatcher, amqp_url, test_db):
    await create_engineer(client, as_dispatcher, "Lim Wei Jie")
    request = job_requested("JOB-EARLY-CANCEL", MONDAY_8)
    await publish_events(
        amqp_url, followed_by(request, "job.cancelled.v1"), request, job_requested("JOB-NEXT", MONDAY_8)
    )

    async def next_assigned():
        return test_db.jobs.find_one({"_id": "JOB-NEXT", "status": "assigned"})

    await eventually(next_assigned, timeout=30)
    assert test_db.jobs.find_one({"_id": "JOB-EARLY-CANCEL"})["status"] == "cancelled"
    assert test_db.assignments.count_documents({"job_id": "JOB-EARLY-CANCEL"}) == 0


async def test_two_replicas_running_the_monitor_at_once_raise_each_alert_once(
    client, settings, clock, as_dispatcher, amqp_url, test_db, tokens
):
    await create_engineer(client, as_dispatcher, "Lim Wei Jie", capacity=8)
    await create_engineer(client, as_dispatcher, "Nurul Aisyah", capacity=8)  # 3 slots each within 4 h
    for n in range(5):
        await committed_critical_job(client, as_dispatcher, amqp_url, test_db, tokens, f"JOB-R{n}")
    async with AsyncTestClient(create_app(SERVICE, settings, clock=clock), timeout=30) as replica:
        async with EventTap(amqp_url, *ALERTS) as events:
            clock.advance(timedelta(hours=5))  # arrive-by at risk and breached for all five
            # Four rounds at once over both replicas (a replica's own periodic round may join in).
            results = await asyncio.gather(*(check(c, as_dispatcher) for c in (client, replica, client, replica)))
            assert sum(r["at_risk"] for r in results) <= 5 and sum(r["breached"] for r in results) <= 5
            await outbox_flushed(test_db)
            alerts = await events.rest()
    keys = sorted((e.subject, e.type, e.data.deadline) for e in alerts)
    assert len(keys) == 10 and len(set(keys)) == 10
