"""The raw broker baseline: aio-pika publish with confirms and consume with ack, nothing else.

The same broker, message size and persistence as the services' events, so the ratio of the
system's event throughput to this one says what the services add on top of RabbitMQ itself.
"""

from __future__ import annotations

import asyncio
import time

import aio_pika


async def raw_baseline(amqp_url: str, messages: int = 5000, size: int = 1500, publishers: int = 8) -> dict:
    connection = await aio_pika.connect(amqp_url)
    latencies: list[float] = []
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue("bench.baseline", durable=True, arguments={"x-queue-type": "quorum"})
        consumer_channel = await connection.channel()
        await consumer_channel.set_qos(prefetch_count=16)
        consumer_queue = await consumer_channel.get_queue("bench.baseline")
        received = asyncio.Event()
        count = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal count
            latencies.append(time.perf_counter() - float(message.headers["sent"]))
            await message.ack()
            count += 1
            if count == messages:
                received.set()

        consumer_tag = await consumer_queue.consume(on_message)
        body = b"x" * size
        todo = iter(range(messages))

        async def publisher() -> None:
            for _ in todo:
                await channel.default_exchange.publish(
                    aio_pika.Message(body, headers={"sent": str(time.perf_counter())}, delivery_mode=2),
                    routing_key="bench.baseline",
                )

        started = time.perf_counter()
        await asyncio.gather(*(publisher() for _ in range(publishers)))
        await asyncio.wait_for(received.wait(), timeout=300)
        elapsed = time.perf_counter() - started
        await consumer_queue.cancel(consumer_tag)
        await queue.delete(if_unused=False, if_empty=False)
    latencies.sort()
    return {
        "messages": messages,
        "message_bytes": size,
        "messages_per_second": messages / elapsed,
        "latency_ms": {"p50": _pct(latencies, 50) * 1000, "p99": _pct(latencies, 99) * 1000},
    }


def _pct(ordered: list[float], pct: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]
