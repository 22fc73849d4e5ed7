"""A message that no queue takes is never lost, against the real RabbitMQ and MongoDB: the broker returns
it (mandatory publishes on channels with on_return_raises) and whoever published it keeps it.

- The outbox keeps an event pending, attempts counted, while its consumer's queue is gone, and delivers
  it once the consumer's start-up has declared the queue again.
- The delivery policy acks a poison message only once its dead-letter copy is confirmed and routed:
  with the dead-letter queue gone the message stays in its queue, and reaches the dead-letter queue
  once that is declared again.
- A replay acks a dead letter only once the queue that failed it took the copy, and only to queues of
  the service's topology.
"""

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import aio_pika
import pytest
from litestar.testing import AsyncTestClient

from compressor_contracts import CATALOGUE, EXCHANGE, INTEGRATION_ONLY, SERVICES, CloudEvent, service_topology
from compressor_contracts.events.intake import JobRequested
from compressor_contracts.examples import example
from compressor_contracts.topology import topic_matches as routing_key_matches
from compressor_kit.consumer import Consumer
from compressor_kit.deadletters import list_dead_letters, replay
from compressor_kit.delivery import PermanentFailure
from compressor_kit.http import create_app
from compressor_kit.messaging import build_broker, declare_topology
from compressor_kit.outbox import UnitOfWork
from compressor_kit.runtime import Runtime, ServiceDefinition
from compressor_kit.settings import Settings
from compressor_kit.telemetry import setup_tracing
from compressor_kit.testing import drain_queue, eventually, rabbitmq_api, ready_messages

from .test_consumer import job_requested, publish_raw
from .test_deadletters import put_dead_letter

JOB_REQUESTS = "dispatch.job-requests"
DISPATCH_DLQ = "dispatch.dead-letters"

Handler = Callable[[CloudEvent[Any], UnitOfWork], Any]


def dispatch(handler: Handler) -> ServiceDefinition:
    return ServiceDefinition(
        name="dispatch",
        default_port=0,
        description="test",
        consumers=[lambda runtime: [Consumer(JOB_REQUESTS, {JobRequested: handler})]],
    )


INTAKE = ServiceDefinition(name="intake", default_port=0, description="test")


@pytest.fixture
def own_databases(test_settings: Settings, database_prefix: str) -> Settings:
    """The test's settings with one database per service, as deployed (two outboxes, two relays), and a
    relay that retries a refused event within a fraction of a second."""
    return test_settings.model_copy(
        update={
            "mongodb_database": "",
            "mongodb_database_prefix": database_prefix,
            "outbox_retry_first_delay_seconds": 0.05,
            "outbox_retry_max_delay_seconds": 0.2,
        }
    )


@asynccontextmanager
async def running(definition: ServiceDefinition, settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime(definition, definition.settings_from(settings))
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


async def delete_queue(amqp_url: str, queue: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)


async def declare_as_at_start_up(settings: Settings, service: str) -> None:
    """What a (re)starting replica of `service` declares before it consumes or relays."""
    broker = build_broker(settings, service, setup_tracing(service))
    await broker.connect()
    try:
        await declare_topology(broker, service_topology(service))
    finally:
        await broker.stop()


async def request_job(intake: Runtime, job_id: str) -> str:
    async def work(uow: UnitOfWork) -> str:
        data = example("job.requested.v1").model_copy(update={"job_id": job_id})
        return (await uow.publish(data)).id

    return await intake.outbox.transact(work)


async def test_an_event_no_queue_takes_stays_pending_and_is_delivered_once_its_consumer_has_started_again(
    own_databases,
):
    url = own_databases.rabbitmq_url.get_secret_value()
    handled: list[str] = []

    async def assign(event: CloudEvent[Any], uow: UnitOfWork) -> None:
        handled.append(event.subject)

    async with running(INTAKE, own_databases) as intake:
        outbox = intake.db.outbox
        async with running(dispatch(assign), own_databases):
            first = await request_job(intake, "JOB-ROUTED")

            async def first_handled() -> bool:
                return handled == ["JOB-ROUTED"]

            await eventually(first_handled, timeout=10)
            await eventually(lambda: outbox.find_one({"_id": first, "status": "published"}), timeout=10)

        # Dispatch is stopped and its queue deleted (an operator's mistake, a broker restored without
        # it): job.requested is routed to no queue at all in this vhost.
        await delete_queue(url, JOB_REQUESTS)
        second = await request_job(intake, "JOB-RETURNED")

        async def retried() -> dict[str, Any] | None:
            return await outbox.find_one({"_id": second, "attempts": {"$gte": 3}})

        kept = await eventually(retried, timeout=10)
        assert kept["status"] == "pending", "a returned event must not be marked published"
        assert "PublishError" in kept["last_error"]
        assert handled == ["JOB-ROUTED"]

        # Dispatch starts again: its start-up declares its queue and bindings before it consumes, and
        # the relay's next attempt is routed there.
        async with running(dispatch(assign), own_databases):

            async def second_handled() -> bool:
                return handled == ["JOB-ROUTED", "JOB-RETURNED"]

            await eventually(second_handled, timeout=10)
            await eventually(lambda: outbox.find_one({"_id": second, "status": "published"}), timeout=10)


async def test_an_integration_only_event_is_published_with_no_queue_bound(own_databases):
    """backup.completed has no consumer among the services: without a queue of an integration bound it
    is confirmed and dropped by the broker, as intended, rather than retried until parked."""
    reporting_service = ServiceDefinition(name="reporting", default_port=0, description="test")
    async with running(reporting_service, own_databases) as reporting:

        async def work(uow: UnitOfWork) -> str:
            return (await uow.publish(example("backup.completed.v1"))).id

        event_id = await reporting.outbox.transact(work)
        published = await eventually(
            lambda: reporting.db.outbox.find_one({"_id": event_id, "status": "published"}), timeout=10
        )
        assert published["attempts"] == 0


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def delivery_errors() -> Any:
    records = Records()
    logger = logging.getLogger("compressor_kit.delivery")
    logger.addHandler(records)
    yield records
    logger.removeHandler(records)


async def test_a_poison_message_is_not_acked_until_its_dead_letter_copy_is_routed(test_settings, delivery_errors):
    url = test_settings.rabbitmq_url.get_secret_value()
    attempts: list[str] = []

    async def refuse(event: CloudEvent[Any], uow: UnitOfWork) -> None:
        attempts.append(event.subject)
        raise PermanentFailure("no engineer may take this job")

    first, second = job_requested("JOB-POISON-1"), job_requested("JOB-POISON-2")
    async with AsyncTestClient(create_app(dispatch(refuse), test_settings)):
        # The dead-letter queue is gone: the dead-letter exchange routes nowhere.
        await delete_queue(url, DISPATCH_DLQ)
        await publish_raw(url, first.model_dump_json().encode())
        await eventually(lambda: tried_to_dead_letter(delivery_errors, times=2), timeout=10)
        assert await ready_messages(url, JOB_REQUESTS) == 0  # held unacked by the consumer
        assert attempts == ["JOB-POISON-1"], "held, not requeued: no delivery is spent meanwhile"

        # Another replica of dispatch starts and declares the topology: the held message is dead-lettered.
        await declare_as_at_start_up(test_settings, "dispatch")
        [dead] = await drain_queue(url, DISPATCH_DLQ, expect=1, timeout=10)
        assert dead.body == first.model_dump_json().encode()
        assert dead.headers["x-failed-queue"] == JOB_REQUESTS
        assert dead.headers["x-error-type"] == "PermanentFailure"
        assert await ready_messages(url, JOB_REQUESTS) == 0  # and acked, only then

        # Gone again, and the service stops while it holds the next one: the broker takes it back.
        await delete_queue(url, DISPATCH_DLQ)
        held_before = len(delivery_errors.messages)
        await publish_raw(url, second.model_dump_json().encode())
        await eventually(lambda: tried_to_dead_letter(delivery_errors, times=held_before + 2), timeout=10)
    assert await ready_messages(url, JOB_REQUESTS) == 1

    # Its restart declares the dead-letter queue before it consumes: the message is dead-lettered.
    async with AsyncTestClient(create_app(dispatch(refuse), test_settings)):
        [dead] = await drain_queue(url, DISPATCH_DLQ, expect=1, timeout=10)
        assert dead.body == second.model_dump_json().encode()
        assert dead.headers["x-failed-queue"] == JOB_REQUESTS
    assert await ready_messages(url, JOB_REQUESTS) == 0


async def tried_to_dead_letter(records: Records, *, times: int) -> bool:
    return sum("did not take" in m for m in records.messages) >= times


async def test_replay_skips_and_keeps_dead_letters_whose_failed_queue_is_unknown(test_settings):
    url = test_settings.rabbitmq_url.get_secret_value()
    await declare_as_at_start_up(test_settings, "dispatch")
    await declare_as_at_start_up(test_settings, "intake")  # another service's queue, there to be reached
    named_unknown, not_ours, unnamed = job_requested("JOB-U1"), job_requested("JOB-U2"), job_requested("JOB-U3")
    await put_dead_letter(url, named_unknown, "unknown")
    await put_dead_letter(url, not_ours, "intake.customer-file")
    await put_dead_letter(url, unnamed, "")

    outcome = await replay(url, "dispatch", None)

    assert not outcome.replayed
    assert {s.letter.event_id: s.reason for s in outcome.skipped} == {
        named_unknown.id: "x-failed-queue 'unknown' is not a queue of dispatch",
        not_ours.id: "x-failed-queue 'intake.customer-file' is not a queue of dispatch",
        unnamed.id: "no x-failed-queue header: the queue that failed it is unknown",
    }
    assert await ready_messages(url, DISPATCH_DLQ) == 3
    assert await ready_messages(url, "intake.customer-file") == 0
    assert {letter.event_id for letter in await list_dead_letters(url, ["dispatch"])} == {
        named_unknown.id,
        not_ours.id,
        unnamed.id,
    }


async def test_replay_to_a_queue_of_the_topology_deleted_on_the_broker_is_returned_and_kept(test_settings):
    url = test_settings.rabbitmq_url.get_secret_value()
    await declare_as_at_start_up(test_settings, "dispatch")
    letter = job_requested("JOB-R1")
    await put_dead_letter(url, letter, JOB_REQUESTS)
    await delete_queue(url, JOB_REQUESTS)  # a queue dispatch's topology knows, not on the broker now

    missing = await replay(url, "dispatch", [letter.id])

    assert not missing.replayed
    assert [s.reason for s in missing.skipped] == [f"no queue {JOB_REQUESTS!r} on the broker took it"]
    assert await ready_messages(url, DISPATCH_DLQ) == 1

    await declare_as_at_start_up(test_settings, "dispatch")  # dispatch starts again
    back = await replay(url, "dispatch", [letter.id])
    assert [replayed.event_id for replayed in back.replayed] == [letter.id]
    assert await ready_messages(url, DISPATCH_DLQ) == 0
    [delivered] = await drain_queue(url, JOB_REQUESTS, expect=1, timeout=5)
    assert delivered.message_id == letter.id
    assert delivered.headers["x-replayed-from"] == DISPATCH_DLQ


def declared(amqp_url: str) -> tuple[dict[str, dict[str, Any]], set[tuple[str, str, str]]]:
    """The vhost's queues (name: arguments) and bindings (exchange, queue, routing key), from the
    management API (its lists are current; only message counts lag)."""
    vhost = quote(unquote(urlsplit(amqp_url).path[1:]), safe="")
    queues = rabbitmq_api("GET", f"/queues/{vhost}", params={"columns": "name,arguments"}).json()
    bindings = rabbitmq_api("GET", f"/bindings/{vhost}").json()
    return (
        {q["name"]: q["arguments"] for q in queues},
        {(b["source"], b["destination"], b["routing_key"]) for b in bindings if b["destination_type"] == "queue"},
    )


async def test_every_service_declares_its_whole_topology_at_start_up(test_settings):
    """Each service's start-up (before it consumes and before its relay runs) declares its queues, their
    bindings, its dead-letter exchange and queue: a producer never waits on a consumer's first start."""
    url = test_settings.rabbitmq_url.get_secret_value()
    for service in SERVICES:
        async with running(ServiceDefinition(name=service, default_port=0, description="test"), test_settings):
            pass
    queues, bindings = declared(url)
    for service in SERVICES:
        topology = service_topology(service)
        for spec in topology.queues:
            assert queues.get(spec.name, {}).get("x-dead-letter-exchange") == topology.dead_letter_exchange
            for pattern in spec.bindings:
                assert (EXCHANGE, spec.name, pattern) in bindings, f"{spec.name} not bound to {pattern}"
        assert topology.dead_letter_queue in queues
        assert (topology.dead_letter_exchange, topology.dead_letter_queue, "") in bindings
    # Hence every event a service produces has somewhere to go, integration-only events aside.
    for routing_key in CATALOGUE:
        if routing_key not in INTEGRATION_ONLY:
            assert any(routing_key_matches(p, routing_key) for (_, _, p) in bindings), routing_key


async def purge_queue(amqp_url: str, queue: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await (await channel.declare_queue(queue, passive=True)).purge()


async def fill_until_refused(amqp_url: str, queue: str) -> None:
    """Publish to `queue` (x-overflow reject-publish) until the broker nacks: it is full."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        for _ in range(5):
            try:
                await channel.default_exchange.publish(aio_pika.Message(b"filler"), queue)
            except aio_pika.exceptions.DeliveryError:
                return
        raise AssertionError(f"{queue} took every message")


async def test_an_event_the_broker_nacks_spends_no_attempt_and_is_delivered_once_the_queue_takes_it(
    own_databases, caplog
):
    """A nack says a queue could not take the event (a quorum queue electing its leader, or full), not
    that the event is wrong: it spends no attempt, so it does not back off for minutes, and the relay
    reopens its channel (RabbitMQ 3.10 goes on nacking a channel that met a quorum queue's leader down)."""
    url = own_databases.rabbitmq_url.get_secret_value()
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        arguments = {"x-queue-type": "quorum", "x-max-length": 1, "x-overflow": "reject-publish"}
        queue = await channel.declare_queue("full", durable=True, arguments=arguments)
        await queue.bind(exchange, "job.requested.v1")
    await fill_until_refused(url, "full")

    with caplog.at_level(logging.WARNING, logger="compressor_kit"):
        async with running(INTAKE, own_databases) as intake:
            outbox = intake.db.outbox
            event_id = await request_job(intake, "JOB-NACKED")

            async def nacked_thrice() -> bool:
                ours = [r for r in caplog.records if r.name.startswith("compressor_kit")]
                return sum("Basic.Nack" in r.getMessage() for r in ours) >= 3

            await eventually(nacked_thrice, timeout=10)
            kept = await outbox.find_one({"_id": event_id})
            assert kept["status"] == "pending"
            assert kept.get("attempts", 0) == 0, kept  # an outage: no attempt spent, no backoff

            await purge_queue(url, "full")  # room again
            await eventually(lambda: outbox.find_one({"_id": event_id, "status": "published"}), timeout=5)
            [delivered] = await drain_queue(url, "full", expect=1)
            assert delivered.message_id == event_id
