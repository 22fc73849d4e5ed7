"""Parts: waiting for parts, reservation exactly once (even under concurrent approvals),
consumption, release on cancellation."""

import asyncio

from compressor_kit.testing import eventually

from .signing import signature

DIAGNOSIS = {
    "measurements": [{"name": "Vibration velocity", "value": 7.9, "unit": "mm/s", "instrument": "SKF Microlog"}],
    "root_cause": "Drive-end motor bearing worn.",
    "scope": "Drive motor only.",
    "failure_category": "motor_and_drive",
}
BEARINGS = "1622-7134-00"  # opening stock 0


async def post(service, path, headers=None, **kwargs):
    return await service.client.post(
        f"/work-orders/{service.job_id}{path}", headers=headers or service.engineer, **kwargs
    )


async def diagnosed(service) -> None:
    await service.open_work_order()
    assert (await post(service, "/arrival")).status_code == 200
    assert (await post(service, "/diagnosis", json=DIAGNOSIS)).status_code == 200


async def test_a_plan_needing_parts_out_of_stock_waits_for_them_until_they_are_received(service):
    await diagnosed(service)
    proposed = await post(service, "/plans", json={"procedure_id": "PROC-GA-VSD-MOTOR-BEARINGS"})
    assert proposed.status_code == 201, proposed.text
    order = proposed.json()
    assert order["status"] == "waiting_for_parts"
    assert BEARINGS in order["waiting_for_parts_reason"]
    assert order["plans"][-1]["waiting_for_parts"][0]["part_number"] == BEARINGS

    before = service.snapshot()
    refused = await post(service, "/plans/1/approve", json={"signature": signature()}, headers=service.customer)
    body = service.refused(refused, 409, "parts")
    assert BEARINGS in body["detail"]
    assert service.snapshot() == before

    manager = service.auth("u-manager-1", "manager")
    receipt = await service.client.post(f"/parts/{BEARINGS}/receipts", json={"quantity": 2}, headers=manager)
    assert receipt.status_code == 201, receipt.text
    assert receipt.json()["available"] == 2
    approved = await post(service, "/plans/1/approve", json={"signature": signature()}, headers=service.customer)
    assert approved.status_code == 200, approved.text
    assert service.stock(BEARINGS) == {"on_hand": 2, "reserved": 1}
    events = await service.published(5)
    assert events[2].data.waiting_for_parts[0].part_number == BEARINGS
    assert service.types() == ["engineer_arrived", "diagnosed", "plan_proposed", "plan_approved", "signed"]


async def test_concurrent_approvals_reserve_the_parts_once(service):
    await diagnosed(service)
    assert (await post(service, "/plans", json={"procedure_id": "PROC-GA-VSD-OILCIRCUIT"})).status_code == 201
    before = service.stock("1622-3600-00")
    manager = service.auth("u-manager-1", "manager")
    responses = await asyncio.gather(
        post(service, "/plans/1/approve", json={"signature": signature()}, headers=service.customer),
        post(service, "/plans/1/approve", headers=manager),
        post(service, "/plans/1/approve", json={"signature": signature()}, headers=service.customer),
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409], [r.text for r in responses]
    assert service.stock("1622-3600-00") == {"on_hand": before["on_hand"], "reserved": before["reserved"] + 1}
    assert service.db.stock_movements.count_documents({"job_id": service.job_id, "kind": "reserved"}) == 3
    await service.published(5)
    assert service.types().count("plan_approved") == 1
    assert service.types().count("signed") == 1


async def test_cancellation_stops_work_and_releases_the_reservation(service):
    await diagnosed(service)
    assert (await post(service, "/plans", json={"procedure_id": "PROC-GA-VSD-OILCIRCUIT"})).status_code == 201
    assert (
        await post(service, "/plans/1/approve", json={"signature": signature()}, headers=service.customer)
    ).status_code == 200
    assert service.stock("1622-3600-00")["reserved"] == 1
    cancelled = service.event("job.cancelled.v1", source="intake")
    await service.publish(cancelled, cancelled)
    await service.wait_for_status("cancelled")

    async def released():
        return service.stock("1622-3600-00")["reserved"] == 0

    await eventually(released, timeout=30)
    body = service.refused(await post(service, "/work/start"), 409)
    assert "cancelled" in body["detail"]
    assert service.db.stock_movements.count_documents({"job_id": service.job_id, "kind": "released"}) == 3


async def test_redelivered_dispatch_events_change_nothing(service):
    await service.open_work_order()
    before = service.snapshot()
    await service.publish(service.requested, service.requested)  # the same event again
    assigned_again = service.assigned()
    await service.publish(assigned_again, assigned_again)

    async def handled():
        return service.db.inbox.count_documents({}) == 4

    await eventually(handled, timeout=30)
    after = service.snapshot()
    # Only the version and assignment time of the new (distinct) assignment event moved.
    assert len(after["work_orders"]) == 1
    assert after["stock"] == before["stock"] and after["outbox"] == before["outbox"] == []
