"""Matching on job.requested against the real servers: the right engineer and why, the unassigned
queue with its at-risk flag, manual assignment and reassignment, and their validation."""

from datetime import timedelta

from compressor_contracts import Priority
from compressor_kit.testing import eventually
from compressor_kit.testing.events import EventTap, publish_events

from .dispatch_support import MONDAY_8, create_engineer, job_requested, outbox_flushed, snapshot


async def test_the_engineer_with_skills_region_and_the_earliest_free_slot_is_assigned_and_the_reason_says_why(
    client, as_dispatcher, amqp_url, test_db
):
    wrong_region = await create_engineer(client, as_dispatcher, "North Only", regions=("northern",))
    wrong_brand = await create_engineer(client, as_dispatcher, "Kaeser Only", brands=("Kaeser",))
    on_leave = await create_engineer(
        client, as_dispatcher, "On Leave", leave=[{"start": "2030-01-07", "end": "2030-01-10", "reason": "annual"}]
    )
    afternoon = await create_engineer(
        client, as_dispatcher, "Afternoon Shift", shifts=[{"weekday": 0, "start": "13:00", "end": "21:00"}]
    )
    morning = await create_engineer(client, as_dispatcher, "Siti Morning", brands=("atlas copco", "Kaeser"))

    async with EventTap(amqp_url, "job.assigned.v1", "job.sla_at_risk.v1") as events:
        request = job_requested("JOB-100", MONDAY_8, priority=Priority.HIGH)
        await publish_events(amqp_url, request)
        [assigned] = await events.take(1)

    data = assigned.data
    assert assigned.type.endswith("job.assigned.v1")
    assert assigned.correlationid == request.id and assigned.causationid == request.id
    assert data.engineer.engineer_id == morning
    assert data.mode == "automatic"
    assert data.scheduled_window.start == MONDAY_8
    assert data.scheduled_window.end == MONDAY_8 + timedelta(hours=2)
    assert data.matched_skills == ["oil_injected_screw", "brand:Atlas Copco"]
    assert data.region == "central" and data.priority == "high"
    assert data.equipment == request.data.equipment and data.site == request.data.site
    assert data.fault_description == request.data.fault_description
    reason = data.reason
    assert f"Siti Morning ({morning}) covers region central" in reason
    assert "earliest free slot (2030-01-07 08:00 UTC)" in reason
    assert f"{afternoon} (2030-01-07 13:00 UTC)" in reason  # a later slot
    assert f"{on_leave} (on leave" in reason
    assert f"{wrong_brand} (not trained on the Atlas Copco brand)" in reason
    assert f"{wrong_region} (does not cover region central)" in reason

    job = (await client.get("/jobs/JOB-100", headers=as_dispatcher)).json()
    assert job["status"] == "assigned" and job["engineer"]["engineer_id"] == morning
    assert test_db.engineer_days.find_one({"_id": f"{morning}|2030-01-07"})["count"] == 1


async def test_workload_is_balanced_and_capacity_respected_across_jobs(client, as_dispatcher, amqp_url):
    first = await create_engineer(client, as_dispatcher, "First", capacity=1)
    second = await create_engineer(client, as_dispatcher, "Second", capacity=1)
    async with EventTap(amqp_url, "job.assigned.v1") as events:
        await publish_events(amqp_url, job_requested("JOB-1", MONDAY_8))
        [one] = await events.take(1)
        await publish_events(amqp_url, job_requested("JOB-2", MONDAY_8))
        [two] = await events.take(1)
        await publish_events(amqp_url, job_requested("JOB-3", MONDAY_8, priority=Priority.LOW))
        [three] = await events.take(1)
    assert one.data.engineer.engineer_id == first  # tie on slot and workload: lower id
    assert two.data.engineer.engineer_id == second  # first's day is full
    assert two.data.scheduled_window.start == MONDAY_8
    assert three.data.scheduled_window.start == MONDAY_8 + timedelta(days=1)  # both full on Monday
    assert three.data.engineer.engineer_id == first


async def test_an_unmatched_job_waits_in_the_unassigned_queue_flagged_at_risk_and_a_dispatcher_assigns_it(
    client, as_dispatcher, amqp_url, test_db, tokens
):
    kaeser = await create_engineer(client, as_dispatcher, "Kaeser Only", brands=("Kaeser",))
    north = await create_engineer(client, as_dispatcher, "North", regions=("northern",))

    async with EventTap(amqp_url, "job.sla_at_risk.v1", "job.assigned.v1") as events:
        requests = [
            job_requested("JOB-LOW", MONDAY_8 - timedelta(minutes=10), priority=Priority.LOW),
            job_requested("JOB-CRIT", MONDAY_8 - timedelta(minutes=5), priority=Priority.CRITICAL),
            job_requested("JOB-HIGH", MONDAY_8, priority=Priority.HIGH),
        ]
        await publish_events(amqp_url, *requests)
        flagged = await events.take(3)
        assert {e.type.rsplit(".", 2)[-2] for e in flagged} == {"sla_at_risk"}
        crit = next(e for e in flagged if e.subject == "JOB-CRIT")
        assert crit.data.reason == "unassigned" and crit.data.deadline == "arrive_by"
        assert crit.data.engineer is None
        assert crit.data.due_at == MONDAY_8 + timedelta(hours=4, minutes=-5)
        assert f"{kaeser}: not trained on the Atlas Copco brand" in crit.data.detail

        page = (await client.get("/jobs/unassigned?limit=2", headers=as_dispatcher)).json()
        assert page["total"] == 3 and page["limit"] == 2
        assert [j["job_id"] for j in page["items"]] == ["JOB-CRIT", "JOB-HIGH"]  # most urgent first
        rest = (await client.get("/jobs/unassigned?limit=2&offset=2", headers=as_dispatcher)).json()
        assert [j["job_id"] for j in rest["items"]] == ["JOB-LOW"]
        assert "No engineer can be assigned" in page["items"][0]["reason"]
        manager = {"Authorization": f"Bearer {tokens.mint('MGR-1', ['manager'])}"}
        assert (await client.get("/jobs/unassigned", headers=manager)).status_code == 200

        # The dispatcher assigns by hand ...
        response = await client.post(
            "/jobs/JOB-CRIT/assignment",
            json={"engineer_id": north, "reason": "Covering central today; customer agreed", "dispatcher_name": "Aina"},
            headers=as_dispatcher,
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "assigned"
        [manual] = await events.take(1)
        assert manual.data.mode == "manual" and manual.data.engineer.engineer_id == north
        assert manual.data.reason == "Covering central today; customer agreed"
        assert manual.data.assigned_by.user_id == "DSP-7" and manual.data.assigned_by.name == "Aina"
        assert manual.data.previous_engineer is None
        assert manual.correlationid == requests[1].id
        assert manual.data.matched_skills == ["oil_injected_screw", "brand:Atlas Copco"]

        # ... and reassigns, with the engineer replaced named.
        response = await client.post(
            "/jobs/JOB-CRIT/assignment",
            json={
                "engineer_id": kaeser,
                "reason": "North is stuck in traffic",
                "scheduled_window": {"start": "2030-01-07T10:00:00Z", "end": "2030-01-07T12:00:00Z"},
            },
            headers=as_dispatcher,
        )
        assert response.status_code == 200, response.text
        [reassigned] = await events.take(1)
        assert reassigned.data.previous_engineer.engineer_id == north
        assert reassigned.data.engineer.engineer_id == kaeser
        assert reassigned.data.matched_skills == ["oil_injected_screw"]  # the brand does not match
        assert reassigned.data.scheduled_window.start == MONDAY_8 + timedelta(hours=2)

    left = (await client.get("/jobs/unassigned", headers=as_dispatcher)).json()
    assert [j["job_id"] for j in left["items"]] == ["JOB-HIGH", "JOB-LOW"]
    assert [a["revision"] for a in test_db.assignments.find({"job_id": "JOB-CRIT"}).sort("revision", 1)] == [1, 2]
    # The booking moved with the job.
    assert test_db.engineer_days.find_one({"engineer_id": north})["count"] == 0
    assert test_db.engineer_days.find_one({"engineer_id": kaeser})["count"] == 1


async def test_invalid_manual_assignments_are_refused_with_the_field_named_and_change_nothing(
    client, as_dispatcher, amqp_url, test_db, tokens
):
    engineer = await create_engineer(client, as_dispatcher, "Only One", brands=("Kaeser",))
    await publish_events(amqp_url, job_requested("JOB-9", MONDAY_8))

    async def queued():
        return test_db.jobs.find_one({"_id": "JOB-9"})

    await eventually(queued, timeout=30)
    await outbox_flushed(test_db, at_least=1)
    before = snapshot(test_db)
    cases = [
        ("/jobs/JOB-9/assignment", {"engineer_id": "ENG-999", "reason": "x"}, as_dispatcher, 422, "engineer_id"),
        ("/jobs/JOB-404/assignment", {"engineer_id": engineer, "reason": "x"}, as_dispatcher, 404, "job_id"),
        ("/jobs/JOB-9/assignment", {"engineer_id": engineer}, as_dispatcher, 400, "reason"),
        (
            "/jobs/JOB-9/assignment",
            {
                "engineer_id": engineer,
                "reason": "x",
                "scheduled_window": {"start": "2030-01-07T12:00:00Z", "end": "2030-01-07T10:00:00Z"},
            },
            as_dispatcher,
            422,
            "scheduled_window.end",
        ),
        (
            "/jobs/JOB-9/assignment",
            {"engineer_id": engineer, "reason": "x"},
            {"Authorization": f"Bearer {tokens.mint(engineer, ['engineer'])}"},
            403,
            None,
        ),
    ]
    for path, body, headers, status, field in cases:
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        if field:
            assert field in {e["field"] for e in response.json()["errors"]}, response.json()
    assert snapshot(test_db) == before
