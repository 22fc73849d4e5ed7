"""Remote pre-diagnosis and commitment (phase 2) and departure, against the real servers."""

from datetime import timedelta

from compressor_contracts import Priority
from compressor_kit.testing.events import EventTap

from .dispatch_support import MONDAY_8, assigned_job, bearer, create_engineer, outbox_flushed, snapshot


def prediagnosis(arrive_hours: float = 3, resolve_hours: float = 20, **overrides):
    return {
        "contacted_via": "phone",
        "confirmed_symptoms": ["Trips on high discharge temperature after ~40 min", "Oil carry-over at the drain"],
        "suspected_causes": ["Clogged oil cooler", "Thermostatic valve stuck"],
        "likely_parts": [{"part_number": "2901-0776-00", "description": "Oil cooler kit", "quantity": 1}],
        "commitment": {
            "arrive_by": (MONDAY_8 + timedelta(hours=arrive_hours)).isoformat(),
            "resolve_by": (MONDAY_8 + timedelta(hours=resolve_hours)).isoformat(),
        },
        "notes": "Customer will keep the standby unit running.",
        **overrides,
    }


async def test_the_assigned_engineer_commits_within_the_sla_then_departs(
    client, as_dispatcher, amqp_url, test_db, tokens
):
    await create_engineer(client, as_dispatcher, "Lim Wei Jie")
    engineer = await assigned_job(client, as_dispatcher, amqp_url, test_db, "JOB-P1", priority=Priority.CRITICAL)
    as_engineer = bearer(tokens, engineer, "engineer")
    async with EventTap(amqp_url, "job.prediagnosed.v1", "job.engineer_dispatched.v1") as events:
        response = await client.post("/jobs/JOB-P1/prediagnosis", json=prediagnosis(), headers=as_engineer)
        assert response.status_code == 201, response.text
        job = response.json()
        assert job["status"] == "prediagnosed"
        assert job["sla"]["arrive_by"]["due_at"].startswith("2030-01-07T11:00")
        [prediagnosed] = await events.take(1)
        data = prediagnosed.data
        assert data.engineer.engineer_id == engineer and data.engineer.name == "Lim Wei Jie"
        assert data.contacted_via == "phone"
        assert data.confirmed_symptoms[1] == "Oil carry-over at the drain"
        assert data.suspected_causes == ["Clogged oil cooler", "Thermostatic valve stuck"]
        assert data.likely_parts[0].part_number == "2901-0776-00"
        assert data.commitment.arrive_by == MONDAY_8 + timedelta(hours=3)
        assert data.commitment.resolve_by == MONDAY_8 + timedelta(hours=20)
        request_event_id = test_db.jobs.find_one({"_id": "JOB-P1"})["request_event_id"]
        assert prediagnosed.correlationid == request_event_id

        eta = (MONDAY_8 + timedelta(hours=1, minutes=30)).isoformat()
        response = await client.post("/jobs/JOB-P1/departure", json={"eta": eta}, headers=as_engineer)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "dispatched"
        [dispatched] = await events.take(1)
        assert dispatched.data.departed_at == MONDAY_8
        assert dispatched.data.eta == MONDAY_8 + timedelta(hours=1, minutes=30)
        assert dispatched.data.engineer.engineer_id == engineer

    # Departing twice is a state conflict.
    again = await client.post("/jobs/JOB-P1/departure", json={"eta": eta}, headers=as_engineer)
    assert again.status_code == 409
    # The engineer sees their own jobs.
    mine = (await client.get("/jobs", headers=as_engineer)).json()
    assert [j["job_id"] for j in mine["items"]] == ["JOB-P1"]


async def test_invalid_prediagnoses_are_refused_with_the_field_named_and_change_nothing(
    client, as_dispatcher, amqp_url, test_db, tokens
):
    await create_engineer(client, as_dispatcher, "Assigned One")
    other = await create_engineer(client, as_dispatcher, "Someone Else", regions=("northern",))
    engineer = await assigned_job(client, as_dispatcher, amqp_url, test_db, "JOB-P2", priority=Priority.CRITICAL)
    as_engineer = bearer(tokens, engineer, "engineer")
    await outbox_flushed(test_db, at_least=1)
    before = snapshot(test_db)

    cases = [
        # a job assigned to someone else
        ("JOB-P2", prediagnosis(), bearer(tokens, other, "engineer"), 403, "job_id", "assigned to another engineer"),
        # outside the critical SLA policy: on site within 4 h, resolved within 24 h
        ("JOB-P2", prediagnosis(arrive_hours=5), as_engineer, 422, "commitment.arrive_by", "within 4 h"),
        ("JOB-P2", prediagnosis(resolve_hours=30), as_engineer, 422, "commitment.resolve_by", "within 24 h"),
        ("JOB-P2", prediagnosis(arrive_hours=3, resolve_hours=2), as_engineer, 422, "commitment.resolve_by", ""),
        ("JOB-P2", prediagnosis(arrive_hours=-1), as_engineer, 422, "commitment.arrive_by", "future"),
        # unknown job, bad fields, wrong role
        ("JOB-NOPE", prediagnosis(), as_engineer, 404, "job_id", "unknown job"),
        ("JOB-P2", prediagnosis(confirmed_symptoms=[]), as_engineer, 400, "confirmed_symptoms", ""),
        ("JOB-P2", prediagnosis(contacted_via="pigeon"), as_engineer, 400, "contacted_via", ""),
        ("JOB-P2", {**prediagnosis(), "commitment": {"arrive_by": "soon"}}, as_engineer, 400, "commitment", ""),
        ("JOB-P2", prediagnosis(), as_dispatcher, 403, None, ""),
    ]
    for job_id, body, headers, status, field, words in cases:
        response = await client.post(f"/jobs/{job_id}/prediagnosis", json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        if field:
            assert any(field in (e["field"] or "") for e in problem["errors"]), problem
        assert words in problem["detail"] or any(words in e["message"] for e in problem.get("errors", []))
    # Departure before the pre-diagnosis, or by someone else, is refused too.
    eta = {"eta": (MONDAY_8 + timedelta(hours=1)).isoformat()}
    assert (await client.post("/jobs/JOB-P2/departure", json=eta, headers=as_engineer)).status_code == 409
    refused = await client.post("/jobs/JOB-P2/departure", json=eta, headers=bearer(tokens, other, "engineer"))
    assert refused.status_code == 403
    assert snapshot(test_db) == before
