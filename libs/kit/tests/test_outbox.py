"""The transactional outbox against the real MongoDB (transactions) and RabbitMQ (confirms)."""

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from compressor_contracts import parse_event
from compressor_contracts.examples import example
from compressor_kit.outbox import Outbox, pending_count
from compressor_kit.relay import OutboxRelay
from compressor_kit.testing import drain_queue, eventually

# reporting.timeline binds job.#: it sees every job event, like an integration would.
WATCH = "reporting.timeline"


def requested(job_id: str):
    return example("job.requested.v1").model_copy(update={"job_id": job_id})


async def commit_request(outbox: Outbox, job_id: str) -> str:
    async def work(uow):
        await uow.db.requests.insert_one({"_id": job_id}, session=uow.session)
        return (await uow.publish(requested(job_id))).id

    return await outbox.transact(work)


async def test_the_relay_publishes_exactly_the_committed_events_in_order(test_settings, wiring):
    outbox, publish = wiring
    committed = [await commit_request(outbox, f"JOB-{n}") for n in range(3)]

    async def rolled_back(uow):
        await uow.db.requests.insert_one({"_id": "JOB-X"}, session=uow.session)
        await uow.publish(requested("JOB-X"))
        raise ValueError("validation failed after the event was recorded")

    with pytest.raises(ValueError):
        await outbox.transact(rolled_back)
    assert await outbox.db.requests.count_documents({}) == 3  # the state change rolled back with its event

    relay = OutboxRelay(outbox, publish, poll_interval=0.05)
    assert await relay.acquire_lease()
    assert await relay.publish_pending() == 3
    assert await relay.publish_pending() == 0  # marked published: never sent twice

    url = test_settings.rabbitmq_url.get_secret_value()
    messages = await drain_queue(url, WATCH, expect=4, timeout=1.5)
    assert [parse_event(m.body).id for m in messages] == committed
    assert [m.message_id for m in messages] == committed
    assert all(m.content_type == "application/cloudevents+json" for m in messages)
    assert all(m.delivery_mode == 2 for m in messages)  # persistent


async def test_events_published_while_the_database_could_not_mark_them_are_marked_not_sent_again(test_settings, wiring):
    from pymongo.errors import AutoReconnect

    outbox, publish = wiring
    committed = [await commit_request(outbox, f"JOB-{n}") for n in range(2)]
    relay = OutboxRelay(outbox, publish, poll_interval=0.05)
    assert await relay.acquire_lease()
    mark = relay.collection.update_many

    async def database_gone(*args, **kwargs):
        raise AutoReconnect("primary stepped down")

    relay.collection.update_many = database_gone  # the database goes away between confirm and mark
    with pytest.raises(AutoReconnect):
        await relay.publish_pending()
    relay.collection.update_many = mark  # and comes back
    assert await relay.publish_pending() == 0
    assert await pending_count(outbox.db) == 0

    url = test_settings.rabbitmq_url.get_secret_value()
    messages = await drain_queue(url, WATCH, expect=3, timeout=1.5)
    assert [m.message_id for m in messages] == committed  # each once


async def test_only_one_relay_holds_the_lease_until_it_expires(test_settings, wiring):
    outbox, publish = wiring
    first = OutboxRelay(outbox, publish, lease_seconds=0.5)
    second = OutboxRelay(outbox, publish, lease_seconds=0.5)
    assert await first.acquire_lease()
    assert not await second.acquire_lease()
    await eventually(second.acquire_lease, timeout=5)  # once the first relay's lease has run out
    assert not await first.acquire_lease()


async def test_the_lease_holder_renews_only_once_half_the_lease_has_run_out(test_settings, wiring):
    outbox, publish = wiring
    relay = OutboxRelay(outbox, publish, lease_seconds=1.0)
    assert await relay.acquire_lease()
    written = (await outbox.db.outbox_lease.find_one({"_id": "relay"}))["until"]
    assert await relay.acquire_lease()  # early in the lease: no write
    assert (await outbox.db.outbox_lease.find_one({"_id": "relay"}))["until"] == written

    async def renewed() -> bool:
        assert await relay.acquire_lease()  # held all along
        return (await outbox.db.outbox_lease.find_one({"_id": "relay"}))["until"] > written

    await eventually(renewed, timeout=5)  # past half: renewed


async def test_only_a_commit_that_wrote_events_wakes_the_relay(wiring):
    outbox, _ = wiring

    async def state_only(uow):
        await uow.db.requests.insert_one({"_id": "JOB-QUIET"}, session=uow.session)

    await outbox.transact(state_only)
    assert not outbox.committed.is_set()
    await commit_request(outbox, "JOB-LOUD")
    assert outbox.committed.is_set()


@pytest.mark.parametrize("published_before_kill", [0, 2])
async def test_a_relay_killed_mid_way_is_resumed_and_every_committed_event_arrives(
    test_settings, wiring, published_before_kill
):
    """SIGKILL a real relay process between commit and publish (0), or after two confirmed
    publishes it had no time to mark (2): those two are published again, which the consumers'
    inbox absorbs; nothing committed is lost."""
    outbox, publish = wiring
    child = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("relay_killed_mid_publish.py")),
            _settings_json(test_settings),
            "5",
            str(published_before_kill),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -9, child.stderr  # it really died by SIGKILL
    assert "committed" in child.stdout
    committed = [doc["_id"] async for doc in outbox.db.outbox.find().sort([("created_at", 1), ("seq", 1)])]
    assert len(committed) == 5
    url = test_settings.rabbitmq_url.get_secret_value()
    before = await drain_queue(url, WATCH, expect=published_before_kill + 1, timeout=1.5)
    assert [m.message_id for m in before] == committed[:published_before_kill]
    assert await pending_count(outbox.db) == 5

    relay = OutboxRelay(outbox, publish, poll_interval=0.05, lease_seconds=test_settings.outbox_lease_seconds)
    task = asyncio.create_task(relay.run())  # waits for the dead relay's lease to expire, then resumes
    try:
        after = await drain_queue(url, WATCH, expect=5, timeout=15)
        assert await drain_queue(url, WATCH, expect=1, timeout=0.5) == []  # nothing beyond that
    finally:
        relay.stop()
        await task
    assert [m.message_id for m in after] == committed  # every committed event, in commit order
    assert await pending_count(outbox.db) == 0


def _settings_json(settings) -> str:
    values = settings.model_dump()
    for key, value in values.items():
        if hasattr(value, "get_secret_value"):
            values[key] = value.get_secret_value()
    return json.dumps(values)


async def test_last_writes_run_just_before_commit_and_their_failure_aborts_everything(wiring, test_db):
    outbox, _publish = wiring
    order = []

    async def work(uow):
        uow.write_last(
            lambda: uow.db.stock.update_one({"_id": "P-1"}, {"$inc": {"reserved": 1}}, upsert=True, session=uow.session)
        )
        uow.write_last(lambda: _note(order, "last"))
        await uow.db.orders.insert_one({"_id": "O-1"}, session=uow.session)
        order.append("work")
        await uow.publish(requested("JOB-LAST-1"))

    await outbox.transact(work)
    assert order == ["work", "last"]
    assert test_db.stock.find_one({"_id": "P-1"})["reserved"] == 1

    async def refused(uow):
        async def out_of_stock():
            raise LookupError("no stock left")

        await uow.db.orders.insert_one({"_id": "O-2"}, session=uow.session)
        await uow.publish(requested("JOB-LAST-2"))
        uow.write_last(out_of_stock)

    with pytest.raises(LookupError):
        await outbox.transact(refused)
    assert test_db.orders.find_one({"_id": "O-2"}) is None
    assert test_db.outbox.count_documents({"subject": "JOB-LAST-2"}) == 0


async def _note(order: list[str], what: str) -> None:
    order.append(what)
