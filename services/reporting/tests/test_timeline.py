"""The job timeline read model against the real servers: order, time in phase, rework rounds,
listing with filters."""

import random

from litestar.testing import AsyncTestClient

from compressor_contracts import new_event
from compressor_contracts.examples import example
from compressor_kit.http import create_app
from compressor_kit.testing import eventually
from compressor_kit.testing.events import publish_events
from reporting_service.app import SERVICE

from .reporting_story import Job, settings_for

HOUR = 3600.0


async def test_the_timeline_lists_events_in_order_with_time_in_phase_and_rework_rounds(test_settings, test_db, tokens):
    url = test_settings.rabbitmq_url.get_secret_value()
    job = Job("JOB-T-1", rounds=2)
    events = job.build()
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)  # producers are independent: arrival order is not event order
    app = create_app(SERVICE, settings_for(test_settings))
    async with AsyncTestClient(app) as client:
        await publish_events(url, *shuffled)

        async def all_in():
            # ours, and the report reporting publishes itself once the inspection passed
            return test_db.timeline_events.count_documents({"job_id": job.job_id}) == len(events) + 1

        await eventually(all_in, timeout=30)
        staff = {"Authorization": f"Bearer {tokens.mint('u-dispatcher-1', ['dispatcher'])}"}
        response = await client.get(f"/jobs/{job.job_id}/timeline", headers=staff)
        unknown = await client.get("/jobs/JOB-NOPE/timeline", headers=staff)
        customer = await client.get(
            f"/jobs/{job.job_id}/timeline",
            headers={"Authorization": f"Bearer {tokens.mint('CUST-0107', ['customer'])}"},
        )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["events"].pop()["event"] == "job.report_published"
    reported = body["phases"].pop()
    assert reported["phase"] == 7 and reported["started_at"] == "2026-03-02T18:30:00Z"
    del body["seconds_per_phase"]["7"]
    assert [(e["type"], e["time"]) for e in body["events"]] == [
        (e.type, e.time.isoformat().replace("+00:00", "Z")) for e in events
    ]
    assert [e["event_id"] for e in body["events"]] == [e.id for e in events]
    assert body["events"][0]["actor"]["name"] == "Nurul Izzah"  # who recorded the request
    assert body["events"][-1]["actor"]["role"] == "inspector"
    phases = [(p["phase"], p["round"], p["seconds"]) for p in body["phases"]]
    assert phases == [
        (1, None, 0.5 * HOUR),
        (2, None, 2.5 * HOUR),
        (3, None, 2.0 * HOUR),
        (4, None, 1.0 * HOUR),
        (5, 1, 1.0 * HOUR),
        (6, 1, 0.5 * HOUR),
        (5, 2, 2.5 * HOUR),  # rework round: from the failed inspection to the work completed
        (6, 2, 0.5 * HOUR),
    ]
    assert body["seconds_per_phase"] == {
        "1": 0.5 * HOUR,
        "2": 2.5 * HOUR,
        "3": 2.0 * HOUR,
        "4": 1.0 * HOUR,
        "5": 3.5 * HOUR,
        "6": 1.0 * HOUR,
    }
    assert body["rework_rounds"] == 1
    assert body["job"]["phase"] == 7 and body["job"]["status"] == "open"
    assert unknown.status_code == 404
    assert customer.status_code == 403


async def test_jobs_are_listed_by_phase_status_customer_engineer_priority_and_date_paginated(
    test_settings, test_db, tokens
):
    url = test_settings.rabbitmq_url.get_secret_value()
    first = Job("JOB-L-1", rounds=1, engineer_id="ENG-1", customer_id="CUST-1", priority="high")
    second = Job("JOB-L-2", rounds=1, engineer_id="ENG-2", customer_id="CUST-2", priority="low")
    second.start = first.start.replace(day=10)
    events = first.build() + second.build()[:3]  # the second job is still in phase 2
    cancelled = new_event(
        example("job.cancelled.v1").model_copy(update={"job_id": "JOB-L-2"}),
        source_service="intake",
        subject="JOB-L-2",
        time=second.at(5),
    )
    app = create_app(SERVICE, settings_for(test_settings))
    async with AsyncTestClient(app) as client:
        await publish_events(url, *events, cancelled)

        async def all_in():
            # ours, and the report reporting publishes for the first job
            return test_db.timeline_events.count_documents({}) == len(events) + 2

        await eventually(all_in, timeout=30)
        staff = {"Authorization": f"Bearer {tokens.mint('u-manager-1', ['manager'])}"}

        async def ids(query: str) -> list[str]:
            response = await client.get(f"/jobs?{query}", headers=staff)
            assert response.status_code == 200, response.text
            return [job["job_id"] for job in response.json()["items"]]

        assert await ids("") == ["JOB-L-2", "JOB-L-1"]  # most recently requested first
        assert await ids("phase=7") == ["JOB-L-1"]
        assert await ids("status=cancelled") == ["JOB-L-2"]
        assert await ids("status=open") == ["JOB-L-1"]
        assert await ids("customer_id=CUST-1") == ["JOB-L-1"]
        assert await ids("engineer_id=ENG-2") == ["JOB-L-2"]
        assert await ids("priority=low") == ["JOB-L-2"]
        assert await ids("requested_from=2026-03-05T00:00:00Z") == ["JOB-L-2"]
        assert await ids("requested_to=2026-03-05T00:00:00Z") == ["JOB-L-1"]
        page = (await client.get("/jobs?limit=1&offset=1", headers=staff)).json()
        assert [j["job_id"] for j in page["items"]] == ["JOB-L-1"] and page["total"] == 2
        bad = await client.get("/jobs?status=sleeping", headers=staff)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
