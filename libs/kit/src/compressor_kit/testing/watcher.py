"""An integration's view of the system: a queue of its own bound to the public exchange (the whole-job
tests, through the API and in the browser, and the fault tests watch the system through it)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aio_pika

from compressor_contracts import EXCHANGE, CloudEvent, parse_event


class EventWatcher:
    """Receives every job, customer-file and machine event, and checks each is a valid contract event."""

    BINDINGS = ("job.#", "customer_file.#", "customer.#", "equipment.#")

    def __init__(self, amqp_url: str, *, durable: bool = False) -> None:
        """`durable`: a quorum queue of its own that outlives a broker restart (deleted on exit)."""
        self.amqp_url = amqp_url
        self.durable = durable
        self.events: list[CloudEvent[Any]] = []
        self.invalid: list[str] = []

    async def __aenter__(self) -> EventWatcher:
        self._connection = await aio_pika.connect_robust(self.amqp_url)
        channel = await self._connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        name = f"integration-{uuid.uuid4().hex[:8]}"
        if self.durable:
            queue = await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
        else:
            queue = await channel.declare_queue(name, exclusive=True, auto_delete=True)
        self._queue = queue
        for binding in self.BINDINGS:
            await queue.bind(exchange, binding)
        await queue.consume(self._on_message)
        return self

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            try:
                self.events.append(parse_event(message.body))
            except Exception as exc:  # recorded: the test fails on any invalid event
                self.invalid.append(f"{exc}: {message.body[:300]!r}")

    def of_job(self, job_id: str) -> list[CloudEvent[Any]]:
        """The events about `job_id` (or, for machine events, about the machine with this equipment id)."""
        return [e for e in self.events if e.subject == job_id]

    def types(self, job_id: str) -> list[str]:
        return [str(e.data.routing_key()) for e in self.of_job(job_id)]

    async def wait_for(
        self, job_id: str, routing_key: str, *, count: int = 1, timeout: float = 60.0
    ) -> CloudEvent[Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            matching = [e for e in self.of_job(job_id) if e.data.routing_key() == routing_key]
            if len(matching) >= count:
                return matching[count - 1]
            if asyncio.get_running_loop().time() > deadline:
                seen = self.types(job_id)
                raise AssertionError(f"{routing_key} #{count} for {job_id} not seen in {timeout}s; saw {seen}")
            await asyncio.sleep(0.1)

    async def __aexit__(self, *exc: object) -> None:
        if self.durable:
            await self._queue.delete(if_unused=False, if_empty=False)
        await self._connection.close()
