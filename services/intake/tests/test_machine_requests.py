"""Requests the machines raise themselves: telemetry's service-due and alarm events become exactly one
request each (per due point, per alarm episode), however often they are delivered and on however many
replicas, carrying the machine's readings."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from compressor_contracts import new_event
from compressor_contracts.examples import example
from compressor_kit.http import create_app
from compressor_kit.testing import eventually
from compressor_kit.testing.events import publish_events
from intake_service.app import SERVICE

from .intake_support import data_of, open_file


def from_telemetry(routing_key: str, equipment_id: str, **changes):
    data = example(routing_key).model_copy(update={"equipment_id": equipment_id, **changes})
    return new_event(data, source_service="telemetry", subject=equipment_id)


async def test_a_due_point_and_an_alarm_episode_each_raise_one_request_however_often_delivered(
    settings, clock, people, events, amqp_url, test_db
):
    replica = AsyncTestClient(create_app(SERVICE, settings, clock=clock))  # a second consumer of the queue
    async with replica as client:
        file = await open_file(client, people.reception)
        due = from_telemetry("equipment.service_came_due.v1", file.equipment_id)
        # Telemetry on two replicas may each say so: the same due point, in two events.
        due_again = from_telemetry(
            "equipment.service_came_due.v1", file.equipment_id, running_hours=due.data.running_hours + 1
        )
        alarm = from_telemetry("equipment.alarm_raised.v1", file.equipment_id)
        await publish_events(amqp_url, due, due, due_again, alarm, alarm)

        async def raised() -> list[dict]:
            jobs = list(test_db.jobs.find({"equipment_id": file.equipment_id, "channel": "proactive"}))
            return (
                jobs
                if len(jobs) >= 2 and test_db.inbox.count_documents({"_id": {"$regex": "^intake[.]telemetry[|]"}}) >= 3
                else []
            )

        jobs = await eventually(raised, timeout=30)
        assert len(jobs) == 2
        requested = await events.wait_for("job.requested.v1", 2)
        assert {e.data.equipment.equipment_id for e in requested} == {file.equipment_id}
        assert await events.of("job.requested.v1") == requested  # and no third
        by_period = {e.data.origin_reference: data_of(e) for e in requested}
        service = by_period[f"telemetry:{due.data.due_key}"]
        assert service["priority"] == "low"  # due 2026-03-04, two days after the clock's today
        assert "Service level A due at 24000 running hours" in service["fault_description"]
        assert [r["running_hours"] for r in service["machine_readings"]] == [23960, 23972, 23984]
        shutdown = by_period[f"alarm:{file.equipment_id}:{alarm.data.episode_id}"]
        assert shutdown["priority"] == "critical"
        assert "E-TEMP-HIGH" in shutdown["fault_description"]


async def test_telemetry_naming_a_machine_not_on_file_raises_nothing(intake, amqp_url, test_db):
    await publish_events(amqp_url, from_telemetry("equipment.service_came_due.v1", "EQ-NOT-ON-FILE"))

    async def handled() -> bool:
        return test_db.inbox.count_documents({"_id": {"$regex": "^intake[.]telemetry[|]"}}) == 1

    await eventually(handled, timeout=30)
    assert test_db.jobs.count_documents({}) == 0
    assert test_db.outbox.count_documents({}) == 0
