"""RabbitMQ wiring: the broker, the contracts' topology, publishing from the outbox, and the
delivery policy of every consumer (ack on success, bounded retries, then the dead-letter queue
with the reason in the headers)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aio_pika import IncomingMessage
from faststream import BaseMiddleware
from faststream.rabbit import Channel, ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware
from opentelemetry.trace import TracerProvider

from compressor_contracts import (
    CATALOGUE,
    CONTENT_TYPE,
    EXCHANGE,
    CloudEvent,
    ContractError,
    ServiceTopology,
    service_topology,
)
from compressor_kit.outbox import PendingEvent, Publish
from compressor_kit.settings import Settings
from compressor_kit.telemetry import attach_carrier, detach

log = logging.getLogger(__name__)


EVENTS_EXCHANGE = RabbitExchange(EXCHANGE, type=ExchangeType.TOPIC, durable=True)


class PermanentFailure(Exception):
    """A message that no retry can fix: it goes straight to the dead-letter queue."""


def dead_letter_exchange(topology: ServiceTopology) -> RabbitExchange:
    return RabbitExchange(topology.dead_letter_exchange, type=ExchangeType.FANOUT, durable=True)


def rabbit_queue(name: str, arguments: dict[str, Any]) -> RabbitQueue:
    return RabbitQueue(name, queue_type=QueueType.QUORUM, durable=True, arguments=arguments)  # type: ignore[call-overload,no-any-return]  # the QUORUM overload wants a Literal


def build_broker(settings: Settings, service: str, tracer_provider: TracerProvider) -> RabbitBroker:
    topology = service_topology(service)
    broker = RabbitBroker(
        settings.rabbitmq_url.get_secret_value(),
        # Bounded prefetch: one replica must not hoard a queue its siblings could share.
        default_channel=Channel(prefetch_count=settings.rabbitmq_prefetch, publisher_confirms=True),
        app_id=service,
        fail_fast=True,
        reconnect_interval=1.0,
        log_level=logging.DEBUG,
    )
    policy = DeliveryPolicy.factory(
        broker,
        dead_letters=dead_letter_exchange(topology),
        max_attempts=settings.consumer_max_attempts,
        backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
    broker.add_middleware(RabbitTelemetryMiddleware(tracer_provider=tracer_provider))
    broker.add_middleware(policy)
    return broker


async def declare_topology(broker: RabbitBroker, topology: ServiceTopology) -> None:
    """Declare the exchange, this service's queues and bindings, its dead-letter exchange and queue."""
    events = await broker.declare_exchange(EVENTS_EXCHANGE)
    dlx = await broker.declare_exchange(dead_letter_exchange(topology))
    dlq = await broker.declare_queue(rabbit_queue(topology.dead_letter_queue, topology.dead_letter_queue_arguments))
    await dlq.bind(dlx, routing_key="")
    for spec in topology.queues:
        queue = await broker.declare_queue(rabbit_queue(spec.name, spec.arguments))
        for pattern in spec.bindings:
            await queue.bind(events, routing_key=pattern)


def register_publishers(broker: RabbitBroker, service: str) -> dict[str, Any]:
    """One documented publisher per event this service produces (they appear in its AsyncAPI)."""
    publishers = {}
    for routing_key, data_type in CATALOGUE.items():
        if data_type.producer == service:
            publishers[routing_key] = broker.publisher(
                exchange=EVENTS_EXCHANGE,
                routing_key=routing_key,
                persist=True,
                title=routing_key,
                description=(data_type.__doc__ or "").strip(),
                schema=CloudEvent[data_type],  # type: ignore[valid-type]  # one per event type, at run time
            )
    return publishers


def outbox_publisher(publishers: dict[str, Any]) -> Publish:
    """The relay's publish function: continues the trace of the transaction that wrote the event."""

    async def publish(event: PendingEvent) -> None:
        publisher = publishers[event.routing_key]
        token = attach_carrier(event.trace)
        try:
            await publisher.publish(
                event.body.encode(),
                message_id=event.id,
                content_type=CONTENT_TYPE,
                message_type=event.type,
                correlation_id=event.correlation_id,
                timestamp=datetime.now(UTC),
            )
        finally:
            detach(token)

    return publish


class DeliveryPolicy(BaseMiddleware):
    """Acknowledges every consumed message itself (subscribers use AckPolicy.MANUAL).

    Success: ack. A contract violation or PermanentFailure: dead-letter at once. Any other error:
    requeue with a short backoff until `max_attempts` deliveries (counted by the quorum queue's
    x-delivery-count), then dead-letter. The queue's x-delivery-limit is only a backstop for a
    consumer that crashes before it can decide.
    """

    broker: RabbitBroker
    dead_letters: RabbitExchange
    max_attempts: int
    backoff_seconds: float

    @classmethod
    def factory(
        cls, broker: RabbitBroker, *, dead_letters: RabbitExchange, max_attempts: int, backoff_seconds: float
    ) -> Callable[..., DeliveryPolicy]:
        def build(msg: Any, /, *, context: Any) -> DeliveryPolicy:
            middleware = cls(msg, context=context)
            middleware.broker = broker
            middleware.dead_letters = dead_letters
            middleware.max_attempts = max_attempts
            middleware.backoff_seconds = backoff_seconds
            return middleware

        return build

    async def after_processed(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool:
        raw = self.msg
        if not isinstance(raw, IncomingMessage):
            return False
        if exc_val is None:
            await raw.ack()
            return False
        if not isinstance(exc_val, Exception):
            return False  # cancellation or exit: leave the message unacked, the broker redelivers it
        attempts = int(str((raw.headers or {}).get("x-delivery-count") or 0)) + 1
        permanent = isinstance(exc_val, ContractError | PermanentFailure)
        if permanent or attempts >= self.max_attempts:
            log.error(
                "dead-lettering %s after %d attempt(s): %s",
                raw.routing_key,
                attempts,
                exc_val,
                extra={"message_id": raw.message_id},
            )
            await self._dead_letter(raw, exc_val, attempts)
            await raw.ack()
        else:
            log.warning("attempt %d of %s failed, requeueing: %r", attempts, raw.routing_key, exc_val)
            await asyncio.sleep(self.backoff_seconds * 2 ** (attempts - 1))
            # reject (not nack): on quorum queues it is what counts towards the delivery limit
            await raw.reject(requeue=True)
        return True  # handled here; nothing for FastStream to log again

    async def _dead_letter(self, raw: IncomingMessage, error: Exception, attempts: int) -> None:
        subscriber = self.context.get_local("handler_")
        queue = getattr(getattr(subscriber, "queue", None), "name", None) or "unknown"
        headers = dict(raw.headers or {})
        headers.update(
            {
                "x-error": str(error)[:2000],
                "x-error-type": type(error).__name__,
                "x-failed-queue": queue,
                "x-attempts": attempts,
                "x-original-exchange": raw.exchange or "",
                "x-original-routing-key": raw.routing_key or "",
                "x-dead-lettered-at": datetime.now(UTC).isoformat(),
            }
        )
        await self.broker.publish(
            raw.body,
            exchange=self.dead_letters,
            routing_key=raw.routing_key or "",
            headers=headers,
            content_type=raw.content_type,
            message_id=raw.message_id,
            correlation_id=raw.correlation_id,
            persist=True,
        )
