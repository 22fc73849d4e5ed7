"""A dead-letter queue is bounded on the real broker: once full, the dead-lettering publish is refused
(nacked, so the publisher knows) and the letters already kept stay, none silently dropped."""

import contextlib
import dataclasses
import logging

import aio_pika
from aio_pika.exceptions import DeliveryError
from faststream.rabbit import Channel, RabbitBroker
from litestar.testing import AsyncTestClient

from compressor_contracts import service_topology
from compressor_kit import runtime as runtime_module
from compressor_kit.http import create_app
from compressor_kit.messaging import dead_letter_exchange, declare_topology
from compressor_kit.testing import eventually, ready_messages

from .test_consumer import publish_raw
from .test_deadletters import FAILED_QUEUE, dispatch_that_fails_until

LIMIT = 3


class Recorded(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# A quorum queue checks its length before it enqueues, so it takes one letter past x-max-length.
HELD_AT_MOST = LIMIT + 1


async def test_a_full_dead_letter_queue_refuses_the_next_letters_and_keeps_the_oldest(rabbit_vhost):
    # The service's own declaration, with a limit small enough to fill in a test.
    topology = dataclasses.replace(service_topology("quality"), dead_letter_max_length=LIMIT)
    broker = RabbitBroker(rabbit_vhost)
    await broker.connect()
    try:
        await declare_topology(broker, topology)
    finally:
        await broker.stop()

    outcomes = {}
    connection = await aio_pika.connect(rabbit_vhost)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        dlx = await channel.get_exchange(topology.dead_letter_exchange)
        for n in range(LIMIT + 4):
            try:
                await dlx.publish(aio_pika.Message(f"letter {n}".encode(), message_id=f"m{n}"), routing_key="")
                outcomes[f"m{n}"] = "kept"
            except DeliveryError:
                outcomes[f"m{n}"] = "refused"

        depth = await ready_messages(rabbit_vhost, topology.dead_letter_queue)
        queue = await channel.get_queue(topology.dead_letter_queue, ensure=False)
        kept = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            kept.append(message.message_id)

    assert LIMIT <= depth <= HELD_AT_MOST
    assert kept == [m for m, outcome in outcomes.items() if outcome == "kept"]  # the oldest, in order
    assert kept == [f"m{n}" for n in range(depth)]
    assert list(outcomes.values())[depth:] == ["refused"] * (LIMIT + 4 - depth)  # every later one refused


async def test_the_kit_broker_raises_on_a_refused_dead_letter_publish(rabbit_vhost):
    """The delivery policy dead-letters with FastStream's broker.publish (publisher confirms on, as in
    build_broker): a refusal raises, so it cannot go unnoticed and the message be acknowledged away."""
    topology = dataclasses.replace(service_topology("feedback"), dead_letter_max_length=1)
    broker = RabbitBroker(rabbit_vhost, default_channel=Channel(publisher_confirms=True))
    await broker.connect()
    refused = 0
    try:
        await declare_topology(broker, topology)
        for n in range(4):
            try:
                await broker.publish(f"{n}".encode(), exchange=dead_letter_exchange(topology), persist=True)
            except DeliveryError:
                refused += 1
    finally:
        await broker.stop()
    depth = await ready_messages(rabbit_vhost, topology.dead_letter_queue)
    assert 1 <= depth <= 2 and refused == 4 - depth


async def test_a_message_a_full_dead_letter_queue_refuses_stays_in_its_queue_and_is_dead_lettered_once_room_is_made(
    test_settings, test_db, monkeypatch
):
    """End to end through a running service: its dead-letter queue is full, a message it cannot read is not
    acknowledged away (it stays in its queue) and the refusal is logged as an ERROR; once dead letters are
    replayed or purged, it is dead-lettered."""
    bounded = dataclasses.replace(service_topology("dispatch"), dead_letter_max_length=1)
    monkeypatch.setattr(runtime_module, "service_topology", lambda service: bounded)
    url = test_settings.rabbitmq_url.get_secret_value()
    async with AsyncTestClient(create_app(dispatch_that_fails_until([False]), test_settings)):
        connection = await aio_pika.connect(url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            dlx = await channel.get_exchange(bounded.dead_letter_exchange)
            with contextlib.suppress(DeliveryError):
                for n in range(5):  # fill it: the broker refuses once it is full
                    await dlx.publish(aio_pika.Message(b"old letter", message_id=f"old-{n}"), routing_key="")
            full = await ready_messages(url, bounded.dead_letter_queue)

            errors = Recorded(logging.ERROR)
            logging.getLogger("compressor_kit.delivery").addHandler(errors)
            try:
                await publish_raw(url, b"not json")

                async def refusal_logged():
                    return any("did not take" in r.getMessage() for r in errors.records)

                await eventually(refusal_logged, timeout=30)
            finally:
                logging.getLogger("compressor_kit.delivery").removeHandler(errors)
            kept = await ready_messages(url, bounded.dead_letter_queue)
            dlq = await channel.get_queue(bounded.dead_letter_queue, ensure=False)
            await dlq.purge()  # what replaying or purging the dead letters does

            async def dead_lettered():
                return await dlq.get(no_ack=True, fail=False)

            letter = await eventually(dead_lettered, timeout=30)
    assert kept == full  # no old letter pushed out, the new one refused
    # Held (unacknowledged) meanwhile, never dropped: it is the one dead-lettered once there is room.
    assert letter.body == b"not json" and letter.headers["x-failed-queue"] == FAILED_QUEUE


async def test_a_dead_letter_queue_declared_before_the_limit_is_used_as_it_is_with_a_warning(rabbit_vhost, caplog):
    # A broker upgraded from before the bound: the old queue has other arguments, which RabbitMQ refuses to
    # redeclare. The service still starts, warns once per start-up, and dead-letters into the old queue.
    topology = service_topology("quality")
    connection = await aio_pika.connect(rabbit_vhost)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(topology.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"})

    broker = RabbitBroker(rabbit_vhost)
    await broker.connect()
    try:
        with caplog.at_level(logging.WARNING, logger="compressor_kit.messaging"):
            await declare_topology(broker, topology)
            await declare_topology(broker, topology)  # the broker's channels are still usable afterwards
    finally:
        await broker.stop()
    warnings = [r for r in caplog.records if getattr(r, "alert", None) == "dead_letter_queue_unbounded"]
    assert len(warnings) == 2 and topology.dead_letter_queue in warnings[0].getMessage()

    connection = await aio_pika.connect(rabbit_vhost)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        dlx = await channel.get_exchange(topology.dead_letter_exchange)
        await dlx.publish(aio_pika.Message(b"a letter", message_id="m1"), routing_key="")  # routed: not returned
    assert await ready_messages(rabbit_vhost, topology.dead_letter_queue) == 1
