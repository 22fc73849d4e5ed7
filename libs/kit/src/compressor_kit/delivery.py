"""The delivery policy of every consumer: ack on success, bounded retries, then the dead-letter
queue with the reason in the headers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aio_pika import IncomingMessage
from aio_pika.exceptions import ChannelInvalidStateError, DeliveryError
from faststream import BaseMiddleware
from faststream.rabbit import RabbitBroker, RabbitExchange

from compressor_contracts import ContractError

log = logging.getLogger(__name__)

DEAD_LETTER_CONFIRM_SECONDS = 10.0
DEAD_LETTER_FIRST_RETRY_SECONDS = 0.5
DEAD_LETTER_MAX_RETRY_SECONDS = 30.0
STOP_CHECK_SECONDS = 0.2


class PermanentFailure(Exception):
    """A message that no retry can fix: it goes straight to the dead-letter queue."""


class DeadLetteringFailed(Exception):
    """The dead-letter queue did not take a message; the original is left unacknowledged, never dropped."""


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
            log.error(
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
