"""Every invalid input is refused with problem+json, and nothing is written or published.

The snapshot holds the work orders, the stock, the stock movements and the outbox: the relay
only publishes outbox rows, so an unchanged outbox means nothing reached the broker.
"""

from compressor_contracts.common import Engineer
from compressor_kit.testing import eventually

from .signing import signature

GOOD_MEASUREMENT = {"name": "Discharge temperature", "value": 110, "unit": "°C"}
DIAGNOSIS = {
    "measurements": [GOOD_MEASUREMENT],
    "root_cause": "Thermostatic valve stuck open.",
    "scope": "Oil circuit only.",
    "failure_category": "cooling",
}
SAFETY = ["GA-S01", "GA-S02", "GA-S03"]


async def refused(service, method: str, path: str, status: int, field: str | None = None, **kwargs) -> dict:
    before = service.snapshot()
    response = await service.client.request(method, f"/work-orders/{service.job_id}{path}", **kwargs)
    body = service.refused(response, status, field)
    assert service.snapshot() == before, f"{method} {path} changed state although refused"
    return body


async def ok(service, path: str, **kwargs) -> dict:
    kwargs.setdefault("headers", service.engineer)
    response = await service.client.post(f"/work-orders/{service.job_id}{path}", **kwargs)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_each_invalid_input_is_refused_and_leaves_state_and_broker_untouched(service):
    other_engineer = service.auth("ENG-999")
    other_customer = service.auth("CUST-9999", "customer")

    # Before the work order opens (assigned but not pre-diagnosed): nothing can happen.
    await service.publish(service.requested, service.assigned())

    async def assigned():
        doc = service.db.work_orders.find_one({"_id": service.job_id})
        return doc and doc["engineer"] and doc["status"] == "pending"

    await eventually(assigned, timeout=30)
    await refused(service, "POST", "/arrival", 409, headers=service.engineer)
    await service.publish(service.prediagnosed())
    await service.wait_for_status("open")

    # Only the assigned engineer acts.
    await refused(service, "POST", "/arrival", 403, headers=other_engineer)
    await refused(service, "POST", "/diagnosis", 409, "status", json=DIAGNOSIS, headers=service.engineer)
    await ok(service, "/arrival")

    # A measurement without a unit, a photo never uploaded, a photo key never issued.
    no_unit = {**DIAGNOSIS, "measurements": [{"name": "Discharge temperature", "value": 110}]}
    body = await refused(service, "POST", "/diagnosis", 400, json=no_unit, headers=service.engineer)
    assert any("unit" in (e["field"] or "") for e in body["errors"]), body
    upload = await ok(service, "/photos", json={"file_name": "valve.jpg", "content_type": "image/jpeg"})
    not_uploaded = {**DIAGNOSIS, "photo_keys": [upload["photo_key"]]}
    await refused(service, "POST", "/diagnosis", 422, "photo_keys.0", json=not_uploaded, headers=service.engineer)
    foreign = {**DIAGNOSIS, "photo_keys": ["OTHER-JOB/diagnosis/x.jpg"]}
    await refused(service, "POST", "/diagnosis", 422, "photo_keys.0", json=foreign, headers=service.engineer)
    await refused(
        service, "POST", "/photos", 422, "content_type", json={"file_name": "x.exe", "content_type": "application/x"},
        headers=service.engineer,
    )  # fmt: skip
    await ok(service, "/diagnosis", json=DIAGNOSIS)

    # Plans: a dropped safety step, an unknown part, an unknown procedure or one for another model.
    without_lockout = {
        "procedure_id": "PROC-GA-VSD-OILCIRCUIT",
        "steps": [{"procedure_step": s} for s in ("GA-S02", "GA-S03", "GA-M07", "GA-M20")],
    }
    body = await refused(service, "POST", "/plans", 422, "steps", json=without_lockout, headers=service.engineer)
    assert "GA-S01" in body["detail"]
    unknown_part = {"procedure_id": "PROC-GA-VSD-OILCIRCUIT", "parts": [{"part_number": "9999-0000-00", "quantity": 1}]}
    await refused(service, "POST", "/plans", 422, "parts.0.part_number", json=unknown_part, headers=service.engineer)
    out_of_order = {"procedure_id": "PROC-GA-VSD-OILCIRCUIT", "steps": [{"procedure_step": s} for s in SAFETY[::-1]]}
    await refused(service, "POST", "/plans", 422, "steps.1.procedure_step", json=out_of_order, headers=service.engineer)
    await refused(
        service,
        "POST",
        "/plans",
        422,
        "procedure_id",
        json={"procedure_id": "PROC-ZR-SERVICE"},
        headers=service.engineer,
    )
    await refused(
        service, "POST", "/plans", 403, json={"procedure_id": "PROC-GA-VSD-OILCIRCUIT"}, headers=other_engineer
    )

    # Work before approval.
    await refused(service, "POST", "/work/start", 409, "status", headers=service.engineer)
    await ok(service, "/plans", json={"procedure_id": "PROC-GA-VSD-OILCIRCUIT"})
    await refused(service, "POST", "/work/start", 409, "status", headers=service.engineer)

    # Only the job's own customer (or a manager) decides, the customer signing; the engineer only on site,
    # with the customer's signature, and only the engineer assigned.
    signed = {"signature": signature()}
    await refused(service, "POST", "/plans/1/approve", 403, json=signed, headers=other_customer)
    await refused(service, "POST", "/plans/1/approve", 403, json=signed, headers=other_engineer)
    await refused(service, "POST", "/plans/1/approve", 422, "signature", headers=service.engineer)
    await refused(service, "POST", "/plans/1/approve", 422, "signature", headers=service.customer)
    await refused(service, "POST", "/plans/1/reject", 400, json={}, headers=service.customer)  # comments required
    await refused(service, "POST", "/plans/1/reject", 403, json={"comments": "No."}, headers=service.engineer)
    await refused(service, "POST", "/plans/7/approve", 404, "revision", json=signed, headers=service.customer)
    await ok(service, "/plans/1/approve", json=signed, headers=service.customer)
    await refused(
        service, "POST", "/plans/1/approve", 409, "status", json=signed, headers=service.customer
    )  # not twice

    # Execution: steps in order, safety steps never skipped, completion only when all steps are done.
    await ok(service, "/work/start")
    await refused(service, "POST", "/steps/2/complete", 409, "sequence", headers=service.engineer)
    await refused(
        service, "POST", "/steps/1/skip", 422, "sequence", json={"reason": "in a hurry"}, headers=service.engineer
    )
    await refused(service, "POST", "/steps/1/complete", 403, headers=other_engineer)
    for sequence in (1, 2, 3):
        await ok(service, f"/steps/{sequence}/complete")
    await refused(service, "POST", "/steps/3/complete", 409, "sequence", headers=service.engineer)  # done already
    completion = {"labour_hours": 3, "repair_method": "Replaced the thermostatic valve.", "parts_used": []}
    await refused(service, "POST", "/work/complete", 409, "sequence", json=completion, headers=service.engineer)
    await ok(service, "/steps/4/skip", json={"reason": "Oil filter replaced last week"})
    for sequence in (5, 6, 7):
        await ok(service, f"/steps/{sequence}/complete")
    outside_plan = {**completion, "parts_used": [{"part_number": "GEN-ORING-KIT-M", "quantity": 1, "in_plan": False}]}
    await refused(
        service, "POST", "/work/complete", 422, "parts_used.0.reason", json=outside_plan, headers=service.engineer
    )
    not_planned = {**completion, "parts_used": [{"part_number": "GEN-ORING-KIT-M", "quantity": 1}]}
    await refused(
        service, "POST", "/work/complete", 422, "parts_used.0.in_plan", json=not_planned, headers=service.engineer
    )
    unknown = {
        **completion,
        "parts_used": [{"part_number": "0000-BOGUS", "quantity": 1, "in_plan": False, "reason": "x"}],
    }
    await refused(
        service, "POST", "/work/complete", 422, "parts_used.0.part_number", json=unknown, headers=service.engineer
    )
    await refused(service, "POST", "/work/complete", 400, json={"repair_method": "x"}, headers=service.engineer)
    await ok(service, "/work/complete", json=completion)
    await refused(service, "POST", "/work/complete", 409, "status", json=completion, headers=service.engineer)

    expected = ["engineer_arrived", "diagnosed", "plan_proposed", "plan_approved", "signed", "work_started"]
    expected += ["progress_reported"] * 6 + ["work_completed"]  # step 4 was skipped: no progress for it
    await service.published(len(expected))
    assert service.types() == expected


async def test_a_reassigned_job_is_worked_by_the_new_engineer_only(service):
    await service.open_work_order()
    first = service.assigned()
    replacement = Engineer(engineer_id="ENG-022", name="Siti Aisyah")
    later = service.assigned(engineer=replacement, at=first.time.replace(year=first.time.year + 1))
    await service.publish(later)

    async def reassigned():
        doc = service.db.work_orders.find_one({"_id": service.job_id})
        return doc["engineer"]["engineer_id"] == "ENG-022"

    await eventually(reassigned, timeout=30)
    await refused(service, "POST", "/arrival", 403, headers=service.engineer)
    await ok(service, "/arrival", headers=service.auth("ENG-022"))
    [arrived] = await service.published(1)
    assert arrived.data.engineer == replacement
