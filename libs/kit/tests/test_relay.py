"""The outbox relay's lease, fencing, time limits and per-event backoff, against the real MongoDB and
RabbitMQ: clocks that disagree with the database server's, a relay overtaken while it works, a publish
that never ends, and events the broker keeps refusing."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from aiormq.abc import DeliveredMessage
from aiormq.exceptions import PublishError
from pamqp.commands import Basic
from pamqp.header import ContentHeader

import compressor_kit.outbox as outbox_module
from compressor_contracts import parse_event
from compressor_kit.clock import ManualClock
from compressor_kit.outbox import pending_count, retry_stuck, stuck_count
from compressor_kit.relay import STUCK_ALERT, LeaseLost, OutboxRelay
from compressor_kit.retry import ItemRetry
from compressor_kit.testing import drain_queue, eventually

from .test_outbox import WATCH, commit_request, requested

SKEW = timedelta(minutes=10)


class SkewedClock:
    """This replica's wall clock, `offset` away from everyone else's."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def commit_event(outbox, job_id: str) -> str:
    async def work(uow):
        return (await uow.publish(requested(job_id))).id

    return await outbox.transact(work)


async def take_over(relay: OutboxRelay, timeout: float = 5.0) -> None:
    await eventually(relay.acquire_lease, timeout=timeout)


async def test_a_replica_whose_clock_runs_ahead_cannot_take_a_live_lease(wiring):
    outbox, publish = wiring
    holder = OutboxRelay(outbox, publish, lease_seconds=5)
    ahead = OutboxRelay(outbox, publish, lease_seconds=5, clock=SkewedClock(SKEW))
    assert await holder.acquire_lease()
    assert not await ahead.acquire_lease()  # by its clock the lease ran out minutes ago; by the server's, not
    assert await holder.acquire_lease()
    lease = await outbox.db.outbox_lease.find_one({"_id": "relay"})
    assert lease["holder"] == holder.instance and lease["generation"] == 1


async def test_a_replica_whose_clock_runs_behind_holds_the_lease_as_long_as_the_server_says(wiring):
    outbox, publish = wiring
    behind = OutboxRelay(outbox, publish, lease_seconds=1, clock=SkewedClock(-SKEW))
    other = OutboxRelay(outbox, publish, lease_seconds=1)
    assert await behind.acquire_lease()
    assert not await other.acquire_lease()  # live by the server's clock, though the clock behind wrote it
    started = asyncio.get_running_loop().time()
    await take_over(other)  # once the server's second has passed, not minutes later nor at once
    assert 0.4 < asyncio.get_running_loop().time() - started < 3
    assert not await behind.acquire_lease()


async def test_a_relay_whose_lease_was_taken_over_publishes_nothing_of_its_batch(test_settings, wiring):
    """A relay paused (its clock frozen: it believes no time passed) while its lease ran out and another
    relay took over: on resuming it must not publish its batch."""
    outbox, publish = wiring
    await commit_request(outbox, "JOB-1")
    paused = OutboxRelay(outbox, publish, lease_seconds=1.5, clock=ManualClock())
    successor = OutboxRelay(outbox, publish, lease_seconds=1.5)
    assert await paused.acquire_lease()
    await take_over(successor)
    with pytest.raises(LeaseLost):
        await paused.publish_pending()
    url = test_settings.rabbitmq_url.get_secret_value()
    assert await drain_queue(url, WATCH, expect=1, timeout=0.5) == []
    assert await pending_count(outbox.db) == 1
    assert await successor.publish_pending() == 1


async def test_a_relay_overtaken_while_publishing_marks_nothing_and_the_new_holder_publishes_it(test_settings, wiring):
    """The publish was under way when the lease ran out and was taken over (a slow broker, a
    partition): the event may have reached the broker, but the old holder's marking is refused, so the
    new holder publishes it again."""
    outbox, publish = wiring
    committed = await commit_request(outbox, "JOB-1")
    successor = OutboxRelay(outbox, publish, lease_seconds=10)

    async def slow_publish(event):
        # Meanwhile, by the server's clock, the lease ran out and the successor took it.
        await outbox.db.outbox_lease.update_one({"_id": "relay"}, {"$set": {"until": datetime(2000, 1, 1)}})
        assert await successor.acquire_lease()
        await publish(event)

    overtaken = OutboxRelay(outbox, slow_publish, lease_seconds=10)
    assert await overtaken.acquire_lease()
    with pytest.raises(LeaseLost):
        await overtaken.publish_pending()
    assert (await outbox.db.outbox.find_one({"_id": committed}))["status"] == "pending"
    assert await successor.publish_pending() == 1
    url = test_settings.rabbitmq_url.get_secret_value()
    messages = await drain_queue(url, WATCH, expect=3, timeout=1.0)
    assert [m.message_id for m in messages] == [committed, committed]  # twice: the inbox absorbs it
    lease = await outbox.db.outbox_lease.find_one({"_id": "relay"})
    assert lease["holder"] == successor.instance and lease["generation"] == 2


async def test_a_publish_that_never_ends_does_not_hold_the_cycle_past_half_the_lease(test_settings, wiring):
    outbox, publish = wiring
    hanging = await commit_request(outbox, "JOB-HANGS")
    fine = await commit_request(outbox, "JOB-FINE")
    calls: list[str] = []

    async def hangs_for_one_job(event):
        calls.append(event.id)
        if event.id == hanging:
            await asyncio.Event().wait()  # a confirm that never comes
        await publish(event)

    relay = OutboxRelay(outbox, hangs_for_one_job, lease_seconds=2)
    assert await relay.acquire_lease()
    started = asyncio.get_running_loop().time()
    assert await asyncio.wait_for(relay.publish_pending(), 5) == 1
    assert asyncio.get_running_loop().time() - started < 1.0  # below half of the 2 s lease
    url = test_settings.rabbitmq_url.get_secret_value()
    assert [m.message_id for m in await drain_queue(url, WATCH, expect=2, timeout=1.0)] == [fine]
    # Its confirm is still awaited: it is not sent again meanwhile (it may be at the broker).
    assert await relay.publish_pending() == 0 and calls == [hanging, fine]
    await asyncio.sleep(2.1)  # a whole lease without a confirm: given up (an outage), and sent again
    assert await relay.acquire_lease()
    with pytest.raises(TimeoutError):
        await relay.publish_pending()
    await relay.publish_pending()
    assert calls == [hanging, fine, hanging]
    row = await outbox.db.outbox.find_one({"_id": hanging})
    assert row["status"] == "pending" and row["attempts"] == 0  # a time limit is not the event's fault


async def test_a_confirm_that_comes_after_its_cycle_is_marked_and_not_sent_again(test_settings, wiring):
    outbox, publish = wiring
    slow = await commit_request(outbox, "JOB-SLOW")
    confirm = asyncio.Event()
    calls: list[str] = []

    async def slow_confirm(event):
        calls.append(event.id)
        await publish(event)
        await confirm.wait()  # the broker's confirm takes longer than the cycle

    relay = OutboxRelay(outbox, slow_confirm, lease_seconds=2)
    assert await relay.acquire_lease()
    assert await asyncio.wait_for(relay.publish_pending(), 5) == 0  # the cycle ends; the confirm is awaited
    confirm.set()
    await asyncio.sleep(0)
    assert await relay.publish_pending() == 1
    assert calls == [slow]
    assert (await outbox.db.outbox.find_one({"_id": slow}))["status"] == "published"
    url = test_settings.rabbitmq_url.get_secret_value()
    assert [m.message_id for m in await drain_queue(url, WATCH, expect=2, timeout=1.0)] == [slow]


class Refusing:
    """The broker returns every event of the jobs in `refused`, as it returns an unroutable one."""

    def __init__(self, publish, refused: set[str]) -> None:
        self.inner = publish
        self.refused = refused

    async def __call__(self, event):
        if parse_event(event.body).subject in self.refused:
            returned = Basic.Return(reply_code=312, reply_text="NO_ROUTE", routing_key=event.routing_key)
            raise PublishError(
                DeliveredMessage(delivery=returned, header=ContentHeader(), body=b"", channel=None), returned
            )
        await self.inner(event)


@pytest.fixture
def alerts():
    seen: list[logging.LogRecord] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if getattr(record, "alert", None) == STUCK_ALERT:
                seen.append(record)

    handler = Handler(logging.ERROR)
    logger = logging.getLogger("compressor_kit.relay")
    logger.addHandler(handler)
    yield seen
    logger.removeHandler(handler)


async def test_events_the_broker_keeps_refusing_back_off_and_are_parked_while_newer_ones_go_through(
    test_settings, wiring, alerts
):
    outbox, publish = wiring
    refused = {f"JOB-STUCK-{n}" for n in range(25)}
    stuck = [await commit_request(outbox, f"JOB-STUCK-{n}") for n in range(25)]
    behind_stuck = await commit_event(outbox, "JOB-STUCK-0")  # the same job's next event
    newer = await commit_request(outbox, "JOB-NEWER")
    retry = ItemRetry(first_delay_seconds=0.05, max_delay_seconds=0.2, max_attempts=3)
    relay = OutboxRelay(outbox, Refusing(publish, refused), poll_interval=0.05, batch_size=20, retry=retry)
    task = asyncio.create_task(relay.run())
    url = test_settings.rabbitmq_url.get_secret_value()
    try:
        arrived = await drain_queue(url, WATCH, expect=1, timeout=5)
        assert [m.message_id for m in arrived] == [newer]  # not held up by the 25 older ones

        async def all_parked_and_alerted() -> bool:
            return await stuck_count(outbox.db) == 25 and len(alerts) == 25  # alerted once each

        await eventually(all_parked_and_alerted, timeout=10)
        assert relay.stuck_total == 25
        assert "outbox event stuck" in alerts[0].getMessage()
        parked = await outbox.db.outbox.find_one({"_id": stuck[0]})
        assert parked["attempts"] == 3 and "NO_ROUTE" in parked["last_error"]
        # The job's later event never overtook its parked one.
        assert (await outbox.db.outbox.find_one({"_id": behind_stuck}))["status"] == "pending"
        assert await drain_queue(url, WATCH, expect=1, timeout=0.3) == []

        # The cause is fixed and the parked events are put back: everything goes, in each job's order.
        refused.clear()
        assert await retry_stuck(outbox.db) == 25
        after = await drain_queue(url, WATCH, expect=26, timeout=10)
    finally:
        relay.stop()
        await task
    ids = [m.message_id for m in after]
    assert sorted(ids) == sorted([*stuck, behind_stuck])
    assert ids.index(stuck[0]) < ids.index(behind_stuck)
    assert await pending_count(outbox.db) == 0 and await stuck_count(outbox.db) == 0


async def test_an_outage_spends_no_attempts(wiring):
    outbox, _ = wiring
    committed = await commit_request(outbox, "JOB-1")

    async def broker_down(event):
        raise ConnectionResetError("connection reset by peer")

    relay = OutboxRelay(outbox, broker_down, retry=ItemRetry(max_attempts=1))
    assert await relay.acquire_lease()
    for _ in range(3):
        with pytest.raises(ConnectionResetError):
            await relay.publish_pending()
    row = await outbox.db.outbox.find_one({"_id": committed})
    assert row["status"] == "pending" and row["attempts"] == 0 and "next_attempt_at" not in row


class ClockAhead(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime.now(tz) + SKEW


async def test_a_jobs_events_are_published_in_commit_order_whatever_the_committing_replicas_clocks(
    test_settings, wiring, monkeypatch
):
    outbox, publish = wiring
    with monkeypatch.context() as replica_ahead:
        replica_ahead.setattr(outbox_module, "datetime", ClockAhead, raising=False)
        first = await commit_event(outbox, "JOB-1")
    second = await commit_event(outbox, "JOB-1")  # by a replica whose clock is right, after the first
    relay = OutboxRelay(outbox, publish)
    assert await relay.acquire_lease()
    assert await relay.publish_pending() == 2
    url = test_settings.rabbitmq_url.get_secret_value()
    assert [m.message_id for m in await drain_queue(url, WATCH, expect=3, timeout=1.0)] == [first, second]


async def test_a_released_lease_is_taken_at_once_under_the_next_generation(wiring):
    outbox, publish = wiring
    stopping = OutboxRelay(outbox, publish, lease_seconds=30)
    starting = OutboxRelay(outbox, publish, lease_seconds=30)
    assert await stopping.acquire_lease()
    await stopping.release_lease()
    assert await starting.acquire_lease()
    assert (await outbox.db.outbox_lease.find_one({"_id": "relay"}))["generation"] == 2


def test_backoff_doubles_up_to_its_cap():
    retry = ItemRetry(first_delay_seconds=1, max_delay_seconds=5, max_attempts=4)
    assert [retry.delay(n).total_seconds() for n in range(1, 6)] == [1, 2, 4, 5, 5]
    assert not retry.exhausted(3) and retry.exhausted(4)
