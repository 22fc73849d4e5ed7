"""RabbitMQ wiring: the broker, the contracts' topology and publishing from the outbox. What happens
to each consumed message (ack, retry, dead-letter) is `delivery.py`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
from aiormq.exceptions import ChannelPreconditionFailed, DeliveryError, PublishError
from faststream.rabbit import Channel, ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware
from opentelemetry.trace import TracerProvider

from compressor_contracts import (
    CATALOGUE,
    CONTENT_TYPE,
    EXCHANGE,
    INTEGRATION_ONLY,
    CloudEvent,
    ServiceTopology,
    service_topology,
)
from compressor_kit.alerts import DEAD_LETTER_QUEUE_UNBOUNDED, raise_alert
from compressor_kit.delivery import DeliveryPolicy
from compressor_kit.failover import failover_connection
from compressor_kit.metrics import ServiceMetrics
from compressor_kit.outbox import PendingEvent, Publish
from compressor_kit.retry import QueueUnavailable
from compressor_kit.settings import Settings, broker_nodes
from compressor_kit.telemetry import attach_carrier, detach

log = logging.getLogger(__name__)


# How long a publish that was nacked waits, at most, for its channel to be reopened.
REOPEN_SECONDS = 5.0

EVENTS_EXCHANGE = RabbitExchange(EXCHANGE, type=ExchangeType.TOPIC, durable=True)


def dead_letter_exchange(topology: ServiceTopology) -> RabbitExchange:
    return RabbitExchange(topology.dead_letter_exchange, type=ExchangeType.FANOUT, durable=True)


def consumer_channel(settings: Settings) -> Channel:
    """The channel a service's subscribers share, apart from the publishing one, so that reopening that
    one (`outbox_publisher`) never takes their deliveries away. Bounded prefetch: one replica must not
    hoard a queue its siblings could share."""
    return Channel(prefetch_count=settings.rabbitmq_prefetch)


def rabbit_queue(name: str, arguments: dict[str, Any]) -> RabbitQueue:
    return RabbitQueue(name, queue_type=QueueType.QUORUM, durable=True, arguments=arguments)  # type: ignore[call-overload,no-any-return]  # the QUORUM overload wants a Literal


def build_broker(
    settings: Settings, service: str, tracer_provider: TracerProvider, metrics: ServiceMetrics | None = None
) -> RabbitBroker:
    topology = service_topology(service)
    broker = RabbitBroker(
        settings.rabbitmq_url.get_secret_value(),
        # The publishing channel (consumers have their own, `consumer_channel`). Every publish waits for
        # the broker's confirm, and a mandatory message no queue takes is returned and raised
        # (PublishError): without on_return_raises it would count as sent and the outbox would drop it.
        default_channel=Channel(publisher_confirms=True, on_return_raises=True),
        app_id=service,
        fail_fast=True,
        reconnect_interval=1.0,
        log_level=logging.DEBUG,
    )
    # Every node of the cluster, not only RABBITMQ_URL's: FastStream passes its connection arguments to
    # aio-pika's connect_robust, whose connection_class then owns the list (failover.py).
    broker._connection_kwargs["connection_class"] = failover_connection(broker_nodes(settings))
    policy = DeliveryPolicy.factory(
        broker,
        dead_letters=dead_letter_exchange(topology),
        max_attempts=settings.consumer_max_attempts,
        backoff_seconds=settings.consumer_retry_backoff_seconds,
        outage_hold_seconds=settings.consumer_outage_hold_seconds,
        outage_retry_seconds=settings.consumer_outage_retry_seconds,
        user_id=broker_user(settings),
        metrics=metrics,
    )
    broker.add_middleware(RabbitTelemetryMiddleware(tracer_provider=tracer_provider))
    broker.add_middleware(policy)
    return broker


async def declare_topology(
    broker: RabbitBroker, topology: ServiceTopology, *, consumers: Channel | None = None
) -> None:
    """Declare the exchange, this service's queues and bindings, its dead-letter exchange and queue.

    The queues are declared on `consumers`, the channel their subscribers consume on: FastStream keeps
    one queue object per queue, made on the channel that first declared it, and its subscribers consume
    through that object, so a queue declared on the publishing channel would be consumed there, with no
    prefetch bound."""
    events = await broker.declare_exchange(EVENTS_EXCHANGE)
    dlx = await broker.declare_exchange(dead_letter_exchange(topology))
    dlq = await _declare_dead_letter_queue(broker, topology)
    await dlq.bind(dlx, routing_key="")
    for spec in topology.queues:
        queue = await broker.config.declarer.declare_queue(rabbit_queue(spec.name, spec.arguments), channel=consumers)
        for pattern in spec.bindings:
            await queue.bind(events, routing_key=pattern)


# A channel of its own for a declaration that may be refused: a refusal closes the channel it came on.
_PROBE_CHANNEL = Channel(publisher_confirms=False, prefetch_count=1)


async def _declare_dead_letter_queue(broker: RabbitBroker, topology: ServiceTopology) -> Any:
    """The dead-letter queue, bounded (`dead_letter_queue_arguments`). One declared before the bound
    existed has other arguments, which RabbitMQ refuses to redeclare (PRECONDITION_FAILED, closing the
    channel): the declaration is tried on a channel of its own, and the old queue is then used as it is,
    with a warning, until an operator drains and deletes it (README, operations)."""
    bounded = rabbit_queue(topology.dead_letter_queue, topology.dead_letter_queue_arguments)
    try:
        return await broker.config.declarer.declare_queue(bounded, channel=_PROBE_CHANNEL)
    except ChannelPreconditionFailed:
        raise_alert(
            log,
            DEAD_LETTER_QUEUE_UNBOUNDED,
            "dead-letter queue %s predates its length limit (x-max-length %s): it is used unbounded until it is "
            "drained and deleted once",
            topology.dead_letter_queue,
            topology.dead_letter_max_length,
            level=logging.WARNING,
        )
        return await broker.declare_queue(RabbitQueue(topology.dead_letter_queue, declare=False))


def broker_user(settings: Settings) -> str:
    """The broker user this service connects as. Every event it publishes names it in `user_id`: the
    broker refuses a user_id that is not the connection's, so consumers can trust who published."""
    return unquote(urlsplit(settings.rabbitmq_url.get_secret_value()).username or "guest")


def register_publishers(broker: RabbitBroker, service: str, *, user_id: str | None = None) -> dict[str, Any]:
    """One documented publisher per event this service produces (they appear in its AsyncAPI), each
    message naming `user_id` (`broker_user`)."""
    publishers = {}
    for routing_key, data_type in CATALOGUE.items():
        if data_type.producer == service:
            publishers[routing_key] = broker.publisher(
                exchange=EVENTS_EXCHANGE,
                routing_key=routing_key,
                persist=True,
                user_id=user_id,
                title=routing_key,
                description=(data_type.__doc__ or "").strip(),
                schema=CloudEvent[data_type],  # type: ignore[valid-type]  # one per event type, at run time
            )
    return publishers


def outbox_publisher(
    publishers: dict[str, Any], metrics: ServiceMetrics | None = None, *, broker: RabbitBroker | None = None
) -> Publish:
    """The relay's publish function: continues the trace of the transaction that wrote the event.

    It returns once the broker confirmed that it routed the event to at least one queue, and raises
    otherwise (a returned event raises PublishError), so the relay keeps the event pending and retries
    it: an event whose consumers' queues are not declared (yet) is delayed, not lost. Integration-only
    events, which no service consumes, are published without `mandatory`: no queue may be bound.

    A nack (a queue could not take the event) raises QueueUnavailable, an outage, after closing the
    publishing channel of `broker`, which aio-pika reopens at once. RabbitMQ 3.10 keeps, per channel
    and quorum queue, the leader it first found: a channel whose first publish to a queue came while
    that leader's node was going down is nacked for that queue for as long as it lives, though the
    queue has a new leader (rabbit_fifo_client asks the old one, whose node is down, and keeps it)."""

    reopening = asyncio.Lock()  # held while this function reopens the channel: no publish meanwhile

    async def publish(event: PendingEvent) -> None:
        publisher = publishers[event.routing_key]
        async with reopening:
            channel = await _publishing_channel(broker)
        token = attach_carrier(event.trace)
        try:
            await publisher.publish(
                event.body.encode(),
                message_id=event.id,
                content_type=CONTENT_TYPE,
                message_type=event.type,
                correlation_id=event.correlation_id,
                timestamp=datetime.now(UTC),
                mandatory=event.routing_key not in INTEGRATION_ONLY,
            )
        except DeliveryError as error:
            if isinstance(error, PublishError):
                raise  # returned: no queue is bound for it (yet), the event's own refusal
            async with reopening:
                if broker is not None and channel is not None and not channel.is_closed:
                    log.warning("publish of %s nacked (%s): reopening the publishing channel", event.id, error)
                    await _reopen(broker, channel)
            raise QueueUnavailable(str(error)) from error
        finally:
            detach(token)
        if metrics is not None:
            metrics.events_published.labels(event.type).inc()

    return publish


async def _reopen(broker: RabbitBroker, channel: Any, *, within: float = REOPEN_SECONDS) -> None:
    """Close `channel`, the AMQP channel under the broker's robust publishing channel, and wait (at most
    `within` seconds) until aio-pika has restored that one on a fresh channel: closing the new one while
    it is being restored would leave it closed for good."""
    await channel.close()
    robust = await broker.config.channel_manager.get_channel()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        current = await _publishing_channel(broker)
        if current is not None and current is not channel:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(robust.ready(), max(deadline - loop.time(), 0.001))
            return
        await asyncio.sleep(0.05)


async def _publishing_channel(broker: RabbitBroker | None) -> Any:
    """The AMQP channel under the broker's publishing channel now, without waiting for a reconnection
    (None without a broker or an open channel: the publish itself then reports the outage)."""
    if broker is None:
        return None
    try:
        robust = await broker.config.channel_manager.get_channel()
        # aio-pika's base Channel method: the robust one would wait until the connection is back.
        return await aio_pika.Channel.get_underlay_channel(robust)
    except Exception:
        return None
