"""The delivery policy of every consumer: ack on success, bounded retries, then the dead-letter
queue with the reason in the headers; an outage of MongoDB holds events instead of failing them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aio_pika import IncomingMessage
from aio_pika.exceptions import ChannelInvalidStateError, DeliveryError
from faststream import BaseMiddleware
from faststream.message import StreamMessage
from faststream.rabbit import RabbitBroker, RabbitExchange

from compressor_contracts import ContractError
from compressor_kit.alerts import DEAD_LETTER_REFUSED, raise_alert
from compressor_kit.metrics import ServiceMetrics
from compressor_kit.mongo import unavailable

log = logging.getLogger(__name__)

DEAD_LETTER_CONFIRM_SECONDS = 10.0
DEAD_LETTER_FIRST_RETRY_SECONDS = 0.5
DEAD_LETTER_MAX_RETRY_SECONDS = 30.0
STOP_CHECK_SECONDS = 0.2
# Failed attempts an event had spent before it was put back in its queue by an outage: the queue's
# x-delivery-count starts again from 0 for the copy, so the attempts so far travel with it.
ATTEMPTS_SPENT = "x-attempts-spent"
# The queue a put-back copy was returned to; with the consuming service's own user_id, its consumer
# accepts the copy as the producer's event (consumer.PublisherCheck).
PUT_BACK_TO = "x-put-back-to"


class PermanentFailure(Exception):
    """A message that no retry can fix: it goes straight to the dead-letter queue."""


class HoldReleased(Exception):
    """The consumer stopped, or lost its channel, while it held a delivery through an outage: the delivery
    is left unacknowledged for the broker to redeliver (a stop must not wait for MongoDB)."""


class DeadLetteringFailed(Exception):
    """The dead-letter queue did not take a message; the original is left unacknowledged, never dropped."""


class DeliveryPolicy(BaseMiddleware):
    """Acknowledges every consumed message itself (subscribers use AckPolicy.MANUAL).

    Success: ack. A contract violation or PermanentFailure: dead-letter at once. Any other error:
    requeue with a short backoff until `max_attempts` attempts (counted by the quorum queue's
    x-delivery-count, plus any carried in ATTEMPTS_SPENT), then dead-letter. The queue's
    x-delivery-limit is only a backstop for a consumer that crashes before it can decide.

    MongoDB unavailable (`mongo.unavailable`) is not the event's fault, so it spends no attempt: the
    delivery is held unacknowledged and the handler tried again, pausing up to `outage_retry_seconds`
    between tries, until it succeeds or fails otherwise (`consume_scope`). A requeue is not used for
    this, since every requeue counts towards x-delivery-count and so towards both limits. Held
    deliveries fill the consumer's prefetch, so the rest of the queue waits in RabbitMQ instead of
    churning through the handler; consumption resumes by itself with the first try that succeeds.
    RabbitMQ takes back a delivery held longer than its consumer_timeout (counting a delivery), so
    after `outage_hold_seconds` the event is put back instead: republished to the end of its queue,
    carrying the attempts it really spent, and only then acknowledged.
    """

    broker: RabbitBroker
    dead_letters: RabbitExchange
    max_attempts: int
    backoff_seconds: float
    outage_hold_seconds: float
    outage_retry_seconds: float
    user_id: str | None
    metrics: ServiceMetrics | None
    _holding = False  # this delivery is held through an outage now (counted in metrics.held_deliveries)

    @classmethod
    def factory(
        cls,
        broker: RabbitBroker,
        *,
        dead_letters: RabbitExchange,
        max_attempts: int,
        backoff_seconds: float,
        outage_hold_seconds: float = 600.0,
        outage_retry_seconds: float = 5.0,
        user_id: str | None = None,
        metrics: ServiceMetrics | None = None,
    ) -> Callable[..., DeliveryPolicy]:
        def build(msg: Any, /, *, context: Any) -> DeliveryPolicy:
            middleware = cls(msg, context=context)
            middleware.broker = broker
            middleware.dead_letters = dead_letters
            middleware.max_attempts = max_attempts
            middleware.backoff_seconds = backoff_seconds
            middleware.outage_hold_seconds = outage_hold_seconds
            middleware.outage_retry_seconds = outage_retry_seconds
            middleware.user_id = user_id
            middleware.metrics = metrics
            return middleware

        return build

    async def consume_scope(
        self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        """Run the handler; while MongoDB is unavailable, hold the delivery and try again (see the class)."""
        subscriber = self.context.get_local("handler_")
        pause = min(max(self.backoff_seconds, 0.1), self.outage_retry_seconds)
        try:
            return await self._hold_through_outages(call_next, msg, subscriber, pause)
        finally:
            self._held(subscriber, held=False)

    async def _hold_through_outages(
        self,
        call_next: Callable[[StreamMessage[Any]], Awaitable[Any]],
        msg: StreamMessage[Any],
        subscriber: Any,
        pause: float,
    ) -> Any:
        loop = asyncio.get_running_loop()
        held_since: float | None = None
        while True:
            try:
                result = await call_next(msg)
            except Exception as error:
                if not unavailable(error):
                    raise
                if held_since is None:
                    held_since = loop.time()
                    self._held(subscriber, held=True)
                    log.warning(
                        "MongoDB unavailable, holding %s until it answers: %s: %.200s",
                        msg.message_id,
                        type(error).__name__,
                        error,
                    )
                if loop.time() - held_since + pause > self.outage_hold_seconds:
                    raise  # after_processed puts it back in its queue
                if not isinstance(self.msg, IncomingMessage):
                    await asyncio.sleep(pause)
                elif not await _still_held_after(pause, self.msg, subscriber):
                    raise HoldReleased(f"stopped holding {msg.message_id} ({type(error).__name__})") from error
                pause = min(pause * 2, self.outage_retry_seconds)
            else:
                if held_since is not None:
                    log.info("handled %s after holding it %.1fs", msg.message_id, loop.time() - held_since)
                return result

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
        if isinstance(exc_val, HoldReleased):
            log.warning("%s; left for the broker to redeliver", exc_val)
            return True
        spent = _attempts_spent(raw)
        if unavailable(exc_val):  # held for outage_hold_seconds already (consume_scope)
            await self._put_back(raw, spent)
            return True
        attempts = spent + 1
        permanent = isinstance(exc_val, ContractError | PermanentFailure)
        dead = permanent or attempts >= self.max_attempts
        if self.metrics is not None:
            counter = self.metrics.dead_letters if dead else self.metrics.consumer_retries
            counter.labels(_queue_of(self.context.get_local("handler_")), type(exc_val).__name__).inc()
        if dead:
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

    async def _put_back(self, raw: IncomingMessage, spent: int) -> None:
        """Republish `raw` to the end of its own queue with the attempts it spent, then ack it: MongoDB
        is still unavailable after a hold as long as RabbitMQ allows. Without confirmation of the copy,
        the original is requeued instead (one delivery counted)."""
        subscriber = self.context.get_local("handler_")
        queue = getattr(getattr(subscriber, "queue", None), "name", None)
        headers = {key: value for key, value in (raw.headers or {}).items() if key != "x-delivery-count"}
        headers[ATTEMPTS_SPENT] = spent
        headers[PUT_BACK_TO] = queue or ""
        try:
            if not queue:
                raise LookupError(f"the queue that consumed {raw.message_id} is unknown")
            await self.broker.publish(
                raw.body,
                queue,  # the default exchange routes by queue name: only this queue gets the copy
                headers=headers,
                content_type=raw.content_type,
                message_id=raw.message_id,
                correlation_id=raw.correlation_id,
                message_type=raw.type,
                timestamp=raw.timestamp,
                user_id=self.user_id,  # this service's own: the broker checks it against the connection
                persist=True,
                mandatory=True,
                timeout=DEAD_LETTER_CONFIRM_SECONDS,
            )
        except Exception as failed:
            log.error("could not put %s back in %s (%r): requeued", raw.message_id, queue, failed)
            await raw.reject(requeue=True)
            return
        log.warning("MongoDB still unavailable: put %s back at the end of %s", raw.message_id, queue)
        await raw.ack()

    async def _dead_letter(self, raw: IncomingMessage, error: Exception, attempts: int) -> None:
        """Put a copy in the service's dead-letter queue; return only once the broker confirmed that it
        routed the copy to a queue (the broker's channel raises on a returned message).

        Until then the caller must not ack the original: a dead-letter queue that is gone (the exchange
        routes nowhere) or refuses (full) makes this wait and try again, holding the original unacked.
        Nothing is requeued meanwhile, so no delivery is spent towards the queue's x-delivery-limit
        (whose own dead-lettering would drop the message into the same void). Once the queue is back (any
        replica's start-up declares it), the next try succeeds. Raises, leaving the original unacked,
        when the failed queue cannot be named or the channel that holds the original is gone (the broker
        then redelivers it).
        """
        subscriber = self.context.get_local("handler_")
        queue = getattr(getattr(subscriber, "queue", None), "name", None)
        if not queue:
            raise DeadLetteringFailed(f"the queue that consumed {raw.message_id} is unknown: left unacknowledged")
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
        delay = DEAD_LETTER_FIRST_RETRY_SECONDS
        while True:
            try:
                await self.broker.publish(
                    raw.body,
                    exchange=self.dead_letters,
                    routing_key=raw.routing_key or "",
                    headers=headers,
                    content_type=raw.content_type,
                    message_id=raw.message_id,
                    correlation_id=raw.correlation_id,
                    persist=True,
                    mandatory=True,
                    timeout=DEAD_LETTER_CONFIRM_SECONDS,
                )
                return
            except (DeliveryError, TimeoutError) as refused:  # returned (no queue bound), nacked or unconfirmed
                reason = refused
            raise_alert(
                log,
                DEAD_LETTER_REFUSED,
                "the dead-letter exchange %s did not take %s from %s (%r): kept unacknowledged, retrying in %.1fs",
                self.dead_letters.name,
                raw.message_id,
                queue,
                reason,
                delay,
                extra={"message_id": raw.message_id},
            )
            if not await _still_held_after(delay, raw, subscriber):
                raise DeadLetteringFailed(f"could not dead-letter {raw.message_id} ({reason!r}); redelivered later")
            delay = min(delay * 2, DEAD_LETTER_MAX_RETRY_SECONDS)

    def _held(self, subscriber: Any, *, held: bool) -> None:
        """Count a delivery held through an outage (a consumer pause), and how many are held now."""
        if self.metrics is None:
            return
        queue = _queue_of(subscriber)
        if held:
            self.metrics.outage_pauses.labels(queue).inc()
            self.metrics.held_deliveries.labels(queue).inc()
            self._holding = True
        elif self._holding:
            self.metrics.held_deliveries.labels(queue).dec()
            self._holding = False


def _queue_of(subscriber: Any) -> str:
    return str(getattr(getattr(subscriber, "queue", None), "name", None) or "unknown")


def _attempts_spent(raw: IncomingMessage) -> int:
    """Failed attempts before this delivery: the queue's redeliveries of this copy, plus those carried
    by an earlier copy that an outage put back."""
    headers = raw.headers or {}
    return int(str(headers.get("x-delivery-count") or 0)) + int(str(headers.get(ATTEMPTS_SPENT) or 0))


async def _still_held_after(seconds: float, raw: IncomingMessage, subscriber: Any) -> bool:
    """Wait `seconds`; False as soon as the consumer stops (a stop waits for running handlers: a held
    message must not hold it up) or the channel that received `raw` closes (the broker has then taken
    the message back to redeliver it, and this consumer can neither ack nor dead-letter it)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            held = getattr(subscriber, "running", True) and not raw.channel.is_closed
        except ChannelInvalidStateError:
            held = False
        remaining = deadline - asyncio.get_running_loop().time()
        if not held or remaining <= 0:
            return held
        await asyncio.sleep(min(remaining, STOP_CHECK_SECONDS))
