"""Idempotent event consumers.

A service declares, per queue of its topology, which handler takes which event. Each delivery
is decoded and validated against the contracts, then handled in one transaction together with
an inbox row keyed by the event's CloudEvents `source` and `id`: a redelivered or republished
event finds its inbox row and changes nothing.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Union

from faststream import AckPolicy
from faststream.message import StreamMessage
from faststream.rabbit import RabbitBroker
from pymongo import ASCENDING, IndexModel

from compressor_contracts import CloudEvent, EventData, ServiceTopology, parse_event
from compressor_kit.delivery import PermanentFailure
from compressor_kit.logs import log_context
from compressor_kit.messaging import rabbit_queue
from compressor_kit.outbox import Outbox, UnitOfWork
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
    await uow.job_traces.remember(uow.session, event.subject)  # the consume span continues the job's trace
    await handler(event, uow)
    return True


async def decode_event(message: StreamMessage[Any]) -> CloudEvent[Any]:
    # Our own validation (not FastStream's) so that a bad message fails with ContractError,
    # which the delivery policy dead-letters at once with the field named.
    return parse_event(message.body)


def subscribe(
    broker: RabbitBroker, outbox: Outbox, turns: Turns, topology: ServiceTopology, consumer: Consumer
) -> None:
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
                await outbox.transact(lambda uow: handle_once(uow, spec.name, event, handler))

    # The annotation documents the accepted events in the service's AsyncAPI document.
    accepted = tuple(CloudEvent[data_type] for data_type in handlers)  # type: ignore[valid-type]  # at run time
    on_event.__annotations__["event"] = Union[accepted] if len(accepted) > 1 else accepted[0]  # noqa: UP007
    on_event.__name__ = spec.name.replace(".", "_").replace("-", "_")
    broker.subscriber(
        rabbit_queue(spec.name, spec.arguments),
        ack_policy=AckPolicy.MANUAL,  # the DeliveryPolicy middleware acks, retries and dead-letters
        decoder=decode_event,
        title=spec.name,
        description=spec.description,
    )(on_event)
