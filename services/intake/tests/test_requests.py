"""Service requests against the real servers: every channel, Idempotency-Key, the management view
and cancellation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from .intake_support import data_of, events_until, fields_of, open_file, phone_request, problem


async def test_a_request_from_each_channel_publishes_exactly_one_job_requested(client, people, events, test_db):
    file = await open_file(client, people.reception)
    customer = people.customer(file.customer_id)
    sent = [
        ("/requests", phone_request(file), people.reception),
        ("/requests", phone_request(file, channel="portal", priority="normal"), customer),
        (
            "/callbacks",
            {
                "customer_id": file.customer_id,
                "site_id": file.site_id,
                "equipment_id": file.equipment_id,
                "outcome": "problem_reported",
                "notes": "Since the visit the dryer alarm comes on every morning.",
            },
            people.reception,
        ),
        (
            "/requests",
            without(phone_request(file, channel="proactive"), "priority", "fault_description"),
            people.reception,
        ),
    ]
    jobs = []
    for path, request, headers in sent:
        response = await client.post(path, json=request, headers=headers)
        assert response.status_code == 201, response.text
        jobs.append(response.json().get("job") or response.json())

    published = await events.take(4)
    assert test_db.outbox.count_documents({}) == 4  # nothing else was or will be published
    assert [e.subject for e in published] == [job["job_id"] for job in jobs]
    by_channel = {data_of(e)["channel"]: data_of(e) for e in published}
    assert set(by_channel) == {"phone", "portal", "callback", "proactive"}
    phone = by_channel["phone"]
    assert phone["priority"] == "high"
    assert phone["customer"] == {"customer_id": file.customer_id, "name": "Seri Murni Foods Sdn Bhd"}
    assert phone["contact"]["phone"] == "+60123456789"  # normalised to E.164
    assert phone["equipment"]["serial_number"] == "API123456"
    assert phone["equipment"]["model_code"] == "AC-GA37VSD"
    assert phone["equipment"]["purchase_date"] == "2021-06-14"
    assert phone["site"]["region"] == "central"
    assert phone["fault_description"].startswith("Trips on high discharge temperature")
    assert phone["recorded_by"] == {"user_id": "u-reception-3", "name": "Nurul Izzah", "role": "reception"}
    assert by_channel["portal"]["recorded_by"] is None
    assert by_channel["callback"]["origin_reference"].startswith("CB-")
    assert by_channel["callback"]["fault_description"].startswith("Since the visit the dryer alarm")
    assert by_channel["proactive"]["priority"] == "low"
    assert "Scheduled maintenance" in by_channel["proactive"]["fault_description"]
    assert test_db.jobs.count_documents({"status": "open"}) == 4


def without(body: dict, *names: str) -> dict:
    return {k: v for k, v in body.items() if k not in names}


async def test_a_call_back_record_raises_a_request_only_when_it_reports_a_problem(client, people, events, test_db):
    file = await open_file(client, people.reception)
    call = {
        "customer_id": file.customer_id,
        "site_id": file.site_id,
        "equipment_id": file.equipment_id,
        "outcome": "satisfied",
        "notes": "Running well since the visit.",
    }
    satisfied = await client.post("/callbacks", json=call, headers=people.reception)
    assert satisfied.status_code == 201, satisfied.text
    assert satisfied.json()["job"] is None
    headers = {**people.reception, "Idempotency-Key": "callback-42"}
    problem_call = {**call, "outcome": "problem_reported", "notes": "Oil carry-over again.", "priority": "high"}
    first = await client.post("/callbacks", json=problem_call, headers=headers)
    again = await client.post("/callbacks", json=problem_call, headers=headers)
    assert first.status_code == 201 and again.status_code == 200, again.text
    assert again.json()["job"]["job_id"] == first.json()["job"]["job_id"]
    assert first.json()["job"]["origin_reference"] == first.json()["callback_id"]
    unknown = await client.post(
        "/callbacks", json={**problem_call, "equipment_id": "EQ-NONE"}, headers=people.reception
    )
    assert unknown.status_code == 422 and fields_of(unknown) == {"equipment_id"}

    [event] = await events.take(1)
    assert data_of(event)["channel"] == "callback" and data_of(event)["priority"] == "high"
    assert test_db.outbox.count_documents({}) == 1
    assert test_db.callbacks.count_documents({}) == 2
    listed = (await client.get("/callbacks?outcome=problem_reported", headers=people.manager)).json()
    assert listed["total"] == 1 and listed["items"][0]["job"]["status"] == "open"


async def test_a_request_for_a_unit_not_on_file_registers_it_with_the_job(client, people, events, test_db):
    file = await open_file(client, people.reception)
    request = phone_request(
        file,
        equipment_id=None,
        equipment={"model_code": "KS-ASD40", "serial_number": "KSR-1180", "purchase_date": "2024-02-01"},
        contact={"name": "Ravi Chandran", "email": "ravi@serimurni.example"},
    )
    response = await client.post("/requests", json=request, headers=people.reception)
    assert response.status_code == 201, response.text
    [event] = await events.take(1)
    unit = data_of(event)["equipment"]
    assert unit["brand"] == "Kaeser" and unit["serial_number"] == "KSR-1180"
    assert data_of(event)["contact"]["name"] == "Ravi Chandran"
    assert test_db.equipment.find_one({"_id": unit["equipment_id"]})["site_id"] == file.site_id


async def test_a_repeated_idempotency_key_returns_the_same_job_and_publishes_nothing(client, people, events, test_db):
    file = await open_file(client, people.reception)
    headers = {**people.reception, "Idempotency-Key": "call-2026-03-02-0815"}
    first = await client.post("/requests", json=phone_request(file), headers=headers)
    again = await client.post("/requests", json=phone_request(file), headers=headers)
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["job_id"] == first.json()["job_id"]

    other = await client.post("/requests", json=phone_request(file, priority="low"), headers=headers)
    assert other.status_code == 422 and fields_of(other) == {"Idempotency-Key"}

    marker = await client.post("/requests", json=phone_request(file), headers=people.reception)
    published = await events_until(events, "job.requested.v1", marker.json()["job_id"])
    assert [e.subject for e in published] == [first.json()["job_id"], marker.json()["job_id"]]
    assert test_db.jobs.count_documents({}) == 2


async def test_concurrent_requests_with_one_idempotency_key_make_one_job(client, people, events, test_db):
    file = await open_file(client, people.reception)
    headers = {**people.reception, "Idempotency-Key": "portal-form-77"}
    responses = await asyncio.gather(
        *(client.post("/requests", json=phone_request(file), headers=headers) for _ in range(6))
    )
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    assert len({r.json()["job_id"] for r in responses}) == 1
    assert [r.status_code for r in responses].count(201) == 1
    assert test_db.jobs.count_documents({}) == 1
    assert test_db.outbox.count_documents({}) == 1


async def test_the_management_view_lists_open_requests_by_priority_then_age(client, people, clock):
    file = await open_file(client, people.reception)
    ids = {}
    for priority in ("normal", "critical", "low", "normal", "high"):
        response = await client.post("/requests", json=phone_request(file, priority=priority), headers=people.reception)
        ids.setdefault(priority, []).append(response.json()["job_id"])
        clock.advance(timedelta(hours=1))

    page = (await client.get("/requests", headers=people.manager)).json()
    assert [job["priority"] for job in page["items"]] == ["critical", "high", "normal", "normal", "low"]
    assert [job["job_id"] for job in page["items"]][2:4] == ids["normal"]  # oldest first
    assert page["items"][0]["age_hours"] == 4.0
    assert page["total"] == 5

    second = (await client.get("/requests?limit=2&offset=2", headers=people.manager)).json()
    assert [job["priority"] for job in second["items"]] == ["normal", "normal"]
    normal = (await client.get("/requests?priority=normal", headers=people.manager)).json()
    assert normal["total"] == 2

    summary = (await client.get("/requests/summary", headers=people.manager)).json()
    assert summary["open"] == 5
    assert [(p["priority"], p["open"], p["oldest_age_hours"]) for p in summary["priorities"]] == [
        ("critical", 1, 4.0),
        ("high", 1, 1.0),
        ("normal", 2, 5.0),
        ("low", 1, 3.0),
    ]

    refused = await client.get("/requests", headers=people.customer(file.customer_id))
    assert refused.status_code == 403


async def test_a_customer_cancels_a_job_once_and_it_is_no_longer_open(client, people, events, test_db):
    file = await open_file(client, people.reception)
    customer = people.customer(file.customer_id)
    job_id = (await client.post("/requests", json=phone_request(file), headers=people.reception)).json()["job_id"]

    stranger = await client.post(
        f"/requests/{job_id}/cancel", json={"reason": "not mine"}, headers=people.customer("CUST-OTHER")
    )
    assert stranger.status_code == 403
    cancelled = await client.post(
        f"/requests/{job_id}/cancel",
        json={"reason": "Our technician opened the cooling-water valve."},
        headers=customer,
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/requests/{job_id}/cancel", json={"reason": "again"}, headers=customer)
    assert again.status_code == 409
    assert problem(again)["detail"] == "the job is already cancelled"

    published = await events_until(events, "job.cancelled.v1", job_id)
    assert [e.type.rsplit(".", 2)[-2] for e in published] == ["requested", "cancelled"]
    assert data_of(published[1])["cancelled_by"] == "Aminah binti Rahman"
    assert test_db.outbox.count_documents({}) == 2
    open_jobs = (await client.get("/requests", headers=people.manager)).json()
    assert open_jobs["total"] == 0
    assert (await client.get(f"/customers/{file.customer_id}/file", headers=customer)).json()["open_jobs"] == []


async def test_a_customer_can_only_request_for_itself_and_through_the_portal(client, people, test_db):
    file = await open_file(client, people.reception)
    other = await client.post(
        "/requests", json=phone_request(file, channel="portal"), headers=people.customer("CUST-OTHER")
    )
    assert other.status_code == 403
    by_phone = await client.post("/requests", json=phone_request(file), headers=people.customer(file.customer_id))
    assert by_phone.status_code == 422 and fields_of(by_phone) == {"channel"}
    assert test_db.jobs.count_documents({}) == 0
