"""Outbox-to-consumer micro-benchmark on the real servers (`python -m bench.outbox`).

Commits N events (one MongoDB transaction each, as a service does per state change), lets the
outbox relay publish them with confirms, and has an idempotent consumer handle each in its own
transaction with its inbox row. Prints commit rate, end-to-end throughput and latency from
commit to handled. Runs in its own vhost and database, removed afterwards.
"""

import argparse
import asyncio
import statistics
import time
import uuid

from compressor_contracts import JobRequested
from compressor_contracts.examples import example
from compressor_kit.consumer import Consumer
from compressor_kit.messaging import EVENTS_EXCHANGE
from compressor_kit.runtime import Runtime, ServiceDefinition
from compressor_kit.settings import Settings
from compressor_kit.testing import add_vhost, delete_vhost


async def run(events: int, concurrency: int) -> None:
    vhost = f"bench-{uuid.uuid4().hex[:8]}"
    add_vhost(vhost)
    settings = Settings(
        environment="test",
        rabbitmq_url=f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        mongodb_database=vhost.replace("-", "_"),
        log_level="WARNING",
    )
    committed_at: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    async def handled(event, uow) -> None:
        latencies.append(time.perf_counter() - committed_at[event.subject])
        if len(latencies) == events:
            done.set()

    definition = ServiceDefinition(
        name="dispatch",
        default_port=0,
        description="bench",
        consumers=[lambda runtime: [Consumer("dispatch.job-requests", {JobRequested: handled})]],
    )
    runtime = Runtime(definition, settings)
    runtime.publishers["job.requested.v1"] = runtime.broker.publisher(
        exchange=EVENTS_EXCHANGE, routing_key="job.requested.v1", persist=True
    )
    await runtime.start()
    template = example("job.requested.v1")
    try:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(events):
            queue.put_nowait(n)

        async def producer() -> None:
            while not queue.empty():
                job_id = f"JOB-BENCH-{queue.get_nowait():06d}"
                data = template.model_copy(update={"job_id": job_id})
                await runtime.outbox.transact(lambda uow, data=data: uow.publish(data))
                committed_at[job_id] = time.perf_counter()

        start = time.perf_counter()
        await asyncio.gather(*(producer() for _ in range(concurrency)))
        commit_seconds = time.perf_counter() - start
        await asyncio.wait_for(done.wait(), timeout=300)
        total_seconds = time.perf_counter() - start
    finally:
        await runtime.stop()
        from pymongo import MongoClient

        with MongoClient(settings.mongodb_url.get_secret_value()) as client:
            client.drop_database(settings.mongodb_database)
        delete_vhost(vhost)

    ordered = sorted(latencies)
    print(f"events: {events}, producers: {concurrency}")
    print(f"commit (state + outbox, one transaction each): {events / commit_seconds:,.0f} events/s")
    print(f"end to end (commit -> relay -> RabbitMQ -> consumer + inbox): {events / total_seconds:,.0f} events/s")
    print(
        f"latency commit -> handled: p50 {statistics.median(ordered) * 1000:.1f} ms, "
        f"p95 {ordered[int(len(ordered) * 0.95) - 1] * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(run(args.events, args.concurrency))


if __name__ == "__main__":
    main()
