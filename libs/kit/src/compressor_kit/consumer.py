"""Idempotent event consumers.

A service declares, per queue of its topology, which handler takes which event. Each delivery
is decoded and validated against the contracts (its `source` must be its type's producer and, with
per-service broker users, its AMQP `user_id` that producer's user: `PublisherCheck`), then handled
in one transaction together with an inbox row keyed by the event's CloudEvents `source` and `id`: a
redelivered or republished event finds its inbox row and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Union

from faststream import AckPolicy
from faststream.message import StreamMessage
from faststream.rabbit import Channel, RabbitBroker
from pymongo import ASCENDING, IndexModel

from compressor_contracts import CloudEvent, EventData, JobEventData, ServiceTopology, parse_event
from compressor_contracts.catalogue import ForgedEvent
from compressor_contracts.topology import dead_letter_queue
from compressor_kit.delivery import PUT_BACK_TO, PermanentFailure
from compressor_kit.logs import log_context
from compressor_kit.messaging import broker_user, rabbit_queue
from compressor_kit.metrics import ServiceMetrics
from compressor_kit.outbox import Outbox, UnitOfWork
from compressor_kit.settings import Settings
from compressor_kit.turns import Turns

INBOX = "inbox"
KEEP_HANDLED = timedelta(days=30)  # far beyond any redelivery window
INBOX_INDEXES = {
    INBOX: [
        IndexModel(
            [("handled_at", ASCENDING)], name="expire_handled", expireAfterSeconds=int(KEEP_HANDLED.total_seconds())
        )
    ]
}

EventHandler = Callable[[CloudEvent[Any], UnitOfWork], Awaitable[None]]


@dataclass(frozen=True)
class Consumer:
    """The handlers of one queue: `Consumer("dispatch.job-requests", {JobRequested: assign_engineer})`."""

    queue: str
    handlers: Mapping[type[EventData], EventHandler]


async def handle_once(uow: UnitOfWork, consumer: str, event: CloudEvent[Any], handler: EventHandler) -> bool:
    """Apply `handler` unless this consumer already handled the event; True when applied."""
    key = f"{consumer}|{event.source}|{event.id}"
    # One round trip that both checks and claims: an upsert that finds the row inserts nothing (and
    # raises nothing, which would abort the transaction). A concurrent duplicate conflicts on the
    # row, is retried by the driver, and then finds it.
    claimed = await uow.db[INBOX].update_one(
        {"_id": key},
        {"$setOnInsert": {"type": event.type, "subject": event.subject, "handled_at": datetime.now(UTC)}},
        upsert=True,
        session=uow.session,
    )
    if claimed.upserted_id is None:
        return False
    if isinstance(event.data, JobEventData):  # the consume span continues the job's trace
        await uow.job_traces.remember(uow.session, event.subject)
    await handler(event, uow)
    return True


@dataclass(frozen=True)
class PublisherCheck:
    """Who may have published an event this service consumes: its producer's broker user.

    The AMQP `user_id` of a message is checked by the broker against the connection's user (and every
    service's publishers set it: messaging.register_publishers), so no other account can claim it. Each
    service's broker user is RABBITMQ_PUBLISHER_USERS with `{service}` replaced by its name ("{service}"
    by default: the users infra/access.py creates). A dead letter this service replays itself
    (deadletters.replay, its own user, `x-replayed-from` its own dead-letter queue) is accepted too:
    the replay is an admin's decision through this service's own route, and a letter dead-lettered as a
    ForgedEvent is never replayed (deadletters.replay skips it). Likewise an event this service's own
    consumer put back in one of its queues during a MongoDB outage (delivery.py, `x-put-back-to`).
    Off when this service connects as guest (local development: every service shares that account, so
    user_id says nothing; production refuses guest).
    """

    service: str
    users: str = "{service}"

    @classmethod
    def of(cls, settings: Settings, service: str) -> PublisherCheck | None:
        if broker_user(settings) == "guest":
            return None
        return cls(service, settings.rabbitmq_publisher_users)

    def user_of(self, service: str) -> str:
        return self.users.replace("{service}", service)

    def check(self, event: CloudEvent[Any], user_id: str | None, headers: Mapping[str, Any]) -> None:
        producer = type(event.data).producer
        expected = self.user_of(producer)
        if user_id == expected:
            return
        own_replay = headers.get("x-replayed-from") == dead_letter_queue(self.service)
        own_put_back = str(headers.get(PUT_BACK_TO) or "").startswith(f"{self.service}.")
        if (own_replay or own_put_back) and user_id == self.user_of(self.service):
            return
        publisher = "without a user_id" if user_id is None else f"by broker user {user_id!r}"
        message = f"published {publisher}, not by {producer}'s ({expected!r}): only {producer} publishes this event"
        raise ForgedEvent([{"field": "user_id", "message": message}], event_type=event.routing_key)


def event_decoder(publishers: PublisherCheck | None) -> Callable[[StreamMessage[Any]], Awaitable[CloudEvent[Any]]]:
    async def decode_event(message: StreamMessage[Any]) -> CloudEvent[Any]:
        # Our own validation (not FastStream's) so that a bad or forged message fails with
        # ContractError, which the delivery policy dead-letters at once with the field named.
        event = parse_event(message.body)  # the source must be the type's producer
        if publishers is not None:
            raw = message.raw_message
            publishers.check(event, getattr(raw, "user_id", None), getattr(raw, "headers", None) or {})
        return event

    return decode_event


def subscribe(
    broker: RabbitBroker,
    outbox: Outbox,
    turns: Turns,
    topology: ServiceTopology,
    consumer: Consumer,
    *,
    publishers: PublisherCheck | None = None,
    metrics: ServiceMetrics | None = None,
    channel: Channel | None = None,
) -> None:
    """Consume `consumer`'s queue, on `channel` (messaging.consumer_channel; the broker's default one
    without it)."""
    spec = next((q for q in topology.queues if q.name == consumer.queue), None)
    if spec is None:
        raise ValueError(f"{consumer.queue} is not a queue of the {topology.service} topology")
    handlers = dict(consumer.handlers)

    async def on_event(event: CloudEvent[Any]) -> None:
        handler = handlers.get(type(event.data))
        if handler is None:
            raise PermanentFailure(f"{spec.name} has no handler for {event.type}")
        with log_context(job_id=event.subject, event_id=event.id):
            async with turns.turn(f"job:{event.subject}"):
                started = time.perf_counter()
                applied = await outbox.transact(lambda uow: handle_once(uow, spec.name, event, handler))
        if metrics is not None:  # a failed attempt raised above: delivery.py counts its retry or dead letter
            metrics.handler_duration.labels(spec.name, event.type).observe(time.perf_counter() - started)
            counter = metrics.events_consumed if applied else metrics.inbox_duplicates
            counter.labels(spec.name, event.type).inc()

    # The annotation documents the accepted events in the service's AsyncAPI document.
    accepted = tuple(CloudEvent[data_type] for data_type in handlers)  # type: ignore[valid-type]  # at run time
    on_event.__annotations__["event"] = Union[accepted] if len(accepted) > 1 else accepted[0]  # noqa: UP007
    on_event.__name__ = spec.name.replace(".", "_").replace("-", "_")
    broker.subscriber(
        rabbit_queue(spec.name, spec.arguments),
        ack_policy=AckPolicy.MANUAL,  # the DeliveryPolicy middleware acks, retries and dead-letters
        channel=channel,
        decoder=event_decoder(publishers),
        title=spec.name,
        description=spec.description,
    )(on_event)
