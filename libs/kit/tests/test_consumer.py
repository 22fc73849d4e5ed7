"""Consumers against the real RabbitMQ and MongoDB: idempotency, retries and dead-letters."""

import asyncio
import json

import aio_pika
from litestar.testing import AsyncTestClient

from compressor_contracts import EXCHANGE, CloudEvent, new_event
from compressor_contracts.events.intake import JobRequested
from compressor_contracts.examples import example
from compressor_kit.consumer import Consumer
from compressor_kit.http import create_app
from compressor_kit.outbox import UnitOfWork
from compressor_kit.runtime import ServiceDefinition
from compressor_kit.testing import drain_queue, eventually, ready_messages
from compressor_kit.turns import Turns

QUEUE = "dispatch.job-requests"


def dispatch_with(handler) -> ServiceDefinition:
    return ServiceDefinition(
        name="dispatch",
        default_port=0,
        description="test",
        consumers=[lambda runtime: [Consumer(QUEUE, {JobRequested: handler})]],
    )


async def publish_raw(amqp_url: str, body: bytes, routing_key: str = "job.requested.v1") -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EXCHANGE)
        await exchange.publish(
            aio_pika.Message(body, content_type="application/cloudevents+json", delivery_mode=2),
            routing_key=routing_key,
        )


def job_requested(job_id: str = "JOB-1") -> CloudEvent:
    data = example("job.requested.v1").model_copy(update={"job_id": job_id})
    return new_event(data, source_service="intake", subject=job_id)


async def test_an_event_delivered_twice_is_applied_once(test_settings, test_db):
    async def count(event: CloudEvent, uow: UnitOfWork) -> None:
        await uow.db.applied.update_one(
            {"_id": event.subject}, {"$inc": {"times": 1}}, upsert=True, session=uow.session
        )

    app = create_app(dispatch_with(count), test_settings)
    async with AsyncTestClient(app):
        event = job_requested()
        for _ in range(2):
            await publish_raw(test_settings.rabbitmq_url.get_secret_value(), event.model_dump_json().encode())
        second = job_requested()
        await publish_raw(test_settings.rabbitmq_url.get_secret_value(), second.model_dump_json().encode())

        async def both_handled():
            return test_db.inbox.count_documents({}) == 2

        await eventually(both_handled)
        assert await ready_messages(test_settings.rabbitmq_url.get_secret_value(), QUEUE) == 0
        applied = test_db.applied.find_one({"_id": "JOB-1"})
        assert applied["times"] == 2  # two distinct events, the duplicate of the first changed nothing


async def test_a_handler_that_always_fails_ends_in_the_dead_letter_queue_with_the_error(test_settings):
    calls = []

    async def broken(event: CloudEvent, uow: UnitOfWork) -> None:
        calls.append(event.id)
        raise RuntimeError("compressor catalogue unreachable")

    url = test_settings.rabbitmq_url.get_secret_value()
    app = create_app(dispatch_with(broken), test_settings)
    async with AsyncTestClient(app):
        event = job_requested()
        await publish_raw(url, event.model_dump_json().encode())
        [dead] = await drain_queue(url, "dispatch.dead-letters", expect=1)

    assert len(calls) == test_settings.consumer_max_attempts == 3
    assert json.loads(dead.body)["id"] == event.id
    assert dead.headers["x-error"] == "compressor catalogue unreachable"
    assert dead.headers["x-error-type"] == "RuntimeError"
    assert dead.headers["x-attempts"] == 3
    assert dead.headers["x-failed-queue"] == QUEUE
    assert dead.headers["x-original-routing-key"] == "job.requested.v1"
    assert await ready_messages(url, QUEUE) == 0


async def test_an_invalid_message_is_dead_lettered_at_once_with_the_field_named_and_the_consumer_goes_on(test_settings):
    handled = []

    async def record(event: CloudEvent, uow: UnitOfWork) -> None:
        handled.append(event.id)

    url = test_settings.rabbitmq_url.get_secret_value()
    app = create_app(dispatch_with(record), test_settings)
    async with AsyncTestClient(app):
        bad = json.loads(job_requested().model_dump_json())
        bad["data"]["priority"] = "whenever"
        await publish_raw(url, json.dumps(bad).encode())
        await publish_raw(url, b"not json at all")
        good = job_requested()
        await publish_raw(url, good.model_dump_json().encode())
        dead = await drain_queue(url, "dispatch.dead-letters", expect=2)

        async def good_handled():
            return handled == [good.id]

        await eventually(good_handled)

    assert len(dead) == 2
    assert "data.priority" in dead[0].headers["x-error"]
    assert dead[0].headers["x-error-type"] == "ContractError"
    assert dead[0].headers["x-attempts"] == 1
    assert dead[1].headers["x-error-type"] == "ContractError"


async def test_events_of_one_job_take_turns_while_other_jobs_run_alongside(test_settings):
    in_flight: dict[str, int] = {}
    most_at_once = {"per_job": 0, "overall": 0}
    handled: list[str] = []

    async def slow(event: CloudEvent, uow: UnitOfWork) -> None:
        in_flight[event.subject] = in_flight.get(event.subject, 0) + 1
        most_at_once["per_job"] = max(most_at_once["per_job"], in_flight[event.subject])
        most_at_once["overall"] = max(most_at_once["overall"], sum(in_flight.values()))
        await asyncio.sleep(0.3)  # long enough for the other job's first event to arrive meanwhile
        in_flight[event.subject] -= 1
        handled.append(event.id)

    app = create_app(dispatch_with(slow), test_settings)
    async with AsyncTestClient(app):
        url = test_settings.rabbitmq_url.get_secret_value()
        for job in ("JOB-A", "JOB-B", "JOB-A", "JOB-B", "JOB-A", "JOB-B"):
            await publish_raw(url, job_requested(job).model_dump_json().encode())

        async def all_handled():
            return len(handled) == 6

        await eventually(all_handled)
    assert most_at_once == {"per_job": 1, "overall": 2}
    assert not app.state.runtime.turns._locks  # turns are forgotten once nobody waits


async def test_job_turns_are_first_come_first_served():
    turns = Turns()
    order: list[int] = []

    async def take(n: int) -> None:
        async with turns.turn("JOB-1"):
            await asyncio.sleep(0)
            order.append(n)

    await asyncio.gather(*(take(n) for n in range(5)))
    assert order == [0, 1, 2, 3, 4]
    assert not turns._locks
