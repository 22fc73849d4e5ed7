"""Events in tests: publish as a producer would, and tap what a service publishes."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractQueue

from compressor_contracts import CONTENT_TYPE, EXCHANGE, CloudEvent, EventData, new_event, parse_event


def as_event(data: EventData) -> CloudEvent[Any]:
    """`data` as its producer would publish it."""
    return new_event(data, source_service=data.producer, subject=data.subject())


async def publish_events(amqp_url: str, *events: CloudEvent[Any]) -> None:
    """Publish `events` to the events exchange with confirms, as their producers would (re-publishing
    an event as it is stands for a redelivery)."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        for event in events:
            await exchange.publish(
                aio_pika.Message(event.to_bytes(), content_type=CONTENT_TYPE, message_id=event.id, delivery_mode=2),
                routing_key=event.routing_key,
            )


class EventTap:
    """A queue of the test's own, bound to the events exchange: every event published under `bindings`.

    async with EventTap(amqp_url, "job.#") as tap:
        ...
        [assigned] = await tap.take(1)
    """

    def __init__(self, amqp_url: str, *bindings: str) -> None:
        self.amqp_url = amqp_url
        self.bindings = bindings or ("#",)
        self.seen: list[CloudEvent[Any]] = []  # every event that arrived, in order
        self._cursor = 0  # how many of them `take` and `rest` have handed out
        self._connection: AbstractConnection | None = None
        self._queue: AbstractQueue | None = None

    async def __aenter__(self) -> EventTap:
        self._connection = await aio_pika.connect(self.amqp_url)
        channel = await self._connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        self._queue = await channel.declare_queue(exclusive=True)
        for key in self.bindings:
            await self._queue.bind(exchange, routing_key=key)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def _poll(self) -> int:
        assert self._queue is not None, "use the tap as `async with EventTap(...)`"
        arrived = 0
        while (message := await self._queue.get(no_ack=True, fail=False)) is not None:
            self.seen.append(parse_event(message.body))
            arrived += 1
        return arrived

    async def take(self, expect: int, *, timeout: float = 30.0) -> list[CloudEvent[Any]]:
        """The next `expect` events not taken yet, in the order they arrived; fails naming what came."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.seen) - self._cursor < expect and asyncio.get_running_loop().time() < deadline:
            if not await self._poll():
                await asyncio.sleep(0.02)
        taken = self.seen[self._cursor : self._cursor + expect]
        assert len(taken) == expect, f"expected {expect} events, got {[(e.type, e.subject) for e in taken]}"
        self._cursor += expect
        return taken

    async def rest(self) -> list[CloudEvent[Any]]:
        """Every event not taken yet (after the outbox is flushed: everything published has arrived)."""
        await self._poll()
        rest, self._cursor = self.seen[self._cursor :], len(self.seen)
        return rest

    async def of(self, routing_key: str, *, subject: str | None = None) -> list[CloudEvent[Any]]:
        """Every event seen so far under `routing_key` (`job.assigned.v1`), optionally of one job."""
        await self._poll()
        return [e for e in self.seen if e.routing_key == routing_key and (subject is None or e.subject == subject)]

    async def wait_for(
        self, routing_key: str, count: int = 1, *, subject: str | None = None, timeout: float = 30.0
    ) -> list[CloudEvent[Any]]:
        """At least `count` events under `routing_key` (of one job, if given); fails after `timeout`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = await self.of(routing_key, subject=subject)
            if len(found) >= count:
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{count} x {routing_key} not published within {timeout}s; saw {len(found)}")
            await asyncio.sleep(0.02)
