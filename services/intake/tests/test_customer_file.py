"""The customer file: job.closed adds the service to the equipment's history exactly once, moves
the next service due on, and one GET returns the whole file."""

from __future__ import annotations

import json

from compressor_kit.testing import drain_queue, eventually, ready_messages
from compressor_kit.testing.events import publish_events
from intake_service.customer_file.store import HISTORY

from .intake_support import data_of, events_until, job_closed, open_file, phone_request


async def test_a_closed_job_updates_the_customer_file_exactly_once(client, people, events, amqp_url, test_db):
    file = await open_file(client, people.reception)
    job_id = (await client.post("/requests", json=phone_request(file), headers=people.reception)).json()["job_id"]
    customer = people.customer(file.customer_id)
    before = (await client.get(f"/customers/{file.customer_id}/file", headers=customer)).json()
    assert [job["job_id"] for job in before["open_jobs"]] == [job_id]
    unit = before["sites"][0]["equipment"][0]
    assert unit["next_service_due_on"] == "2026-06-01"  # GA 37 VSD+: every 6 months or 4,000 h
    assert unit["next_service_due_at_hours"] == 26_000

    closed = job_closed(job_id, file.customer_id, file.equipment_id)
    await publish_events(amqp_url, closed)
    await publish_events(amqp_url, closed)  # redelivered
    resent = job_closed(job_id, file.customer_id, file.equipment_id)  # the same close, sent again
    await publish_events(amqp_url, resent)

    async def all_handled():
        # One inbox row per distinct event; the consumer takes its queue in order, so the re-sent
        # close being handled means the duplicate before it was too.
        return test_db.inbox.count_documents({}) == 2 and await ready_messages(amqp_url, "intake.customer-file") == 0

    await eventually(all_handled, timeout=30)
    published = await events_until(events, "customer_file.updated.v1", job_id)
    updates = [e for e in published if e.type.endswith("customer_file.updated.v1")]
    assert len(updates) == 1
    update = data_of(updates[0])
    assert update["last_service_on"] == "2026-03-03"
    assert update["next_service_due_on"] == "2026-09-03"
    assert update["next_service_due_at_hours"] == 27_436
    assert update["running_hours"] == 23_436
    assert updates[0].correlationid == closed.correlationid and updates[0].causationid == closed.id
    assert test_db.outbox.count_documents({"type": {"$regex": "customer_file"}}) == 1
    assert test_db.service_history.count_documents({}) == 1

    after = (await client.get(f"/customers/{file.customer_id}/file", headers=customer)).json()
    assert after["open_jobs"] == []
    assert after["contacts"][0]["phone"] == "+60123456789"
    [site] = after["sites"]
    assert site["region"] == "central"
    [unit] = site["equipment"]
    assert unit["last_service_on"] == "2026-03-03"
    assert unit["next_service_due_on"] == "2026-09-03"
    assert unit["running_hours"] == 23_436
    [entry] = unit["history"]
    assert entry["job_id"] == job_id
    assert entry["service_date"] == "2026-03-03"
    assert entry["root_cause"].startswith("Thermostatic valve stuck open")
    assert entry["repair_method"].startswith("Replaced the thermostatic valve")
    assert [p["part_number"] for p in entry["parts_used"]][:2] == ["1622-3600-00", "1625-4800-00"]
    assert entry["report"]["object_key"].endswith("report.pdf")
    assert (entry["csat"], entry["nps"]) == (4, 9)
    assert test_db.jobs.find_one({"_id": job_id})["status"] == "closed"
    cancel = await client.post(f"/requests/{job_id}/cancel", json={"reason": "late"}, headers=customer)
    assert cancel.status_code == 409


async def test_a_customer_sees_only_its_own_file(client, people):
    file = await open_file(client, people.reception)
    assert (
        await client.get(f"/customers/{file.customer_id}/file", headers=people.customer("CUST-X"))
    ).status_code == 403
    assert (await client.get(f"/customers/{file.customer_id}/file", headers=people.engineer)).status_code == 200


async def test_a_close_for_equipment_not_on_file_is_dead_lettered(client, people, amqp_url, test_db):
    await publish_events(amqp_url, job_closed("JOB-ELSEWHERE", "CUST-NONE", "EQ-NONE"))
    [dead] = await drain_queue(amqp_url, "intake.dead-letters", expect=1, timeout=30)
    assert dead.headers["x-error-type"] == "PermanentFailure"
    assert test_db.service_history.count_documents({}) == 0
    assert test_db.outbox.count_documents({}) == 0


async def test_a_customers_history_is_read_through_an_index(intake, test_db):
    """The whole file's history query: one customer's entries found without scanning every closed job's."""
    query = {"find": HISTORY, "filter": {"customer_id": "CUST-0107"}, "sort": {"service_date": -1, "_id": 1}}
    plan = json.dumps(test_db.command("explain", query, verbosity="queryPlanner")["queryPlanner"]["winningPlan"])
    assert '"stage": "COLLSCAN"' not in plan and '"stage": "SORT"' not in plan  # no scan, no sort in memory
