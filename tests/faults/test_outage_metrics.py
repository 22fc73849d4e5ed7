"""A MongoDB outage as /metrics tells it: deliveries held (a consumer pause), no dead letter, the scrape still
answering with its database samples counted as failed; afterwards nothing held and every event consumed once."""

from __future__ import annotations

import asyncio
import time

from litestar.testing import AsyncTestClient
from pymongo import client_session_shared

from compressor_kit.http import create_app
from compressor_kit.metrics import SAMPLE_TIMEOUT_SECONDS
from compressor_kit.testing import eventually
from compressor_kit.testing.metrics import scrape, total, value

from .test_mongodb_outage import QUEUE, dispatch, job_requested, mongod, publish, settings  # noqa: F401  # fixtures

JOB_REQUESTED = "com.compressorservice.job.requested.v1"


async def test_a_mongodb_outage_shows_as_held_deliveries_and_failed_samples_then_clears(settings, mongod, monkeypatch):  # noqa: F811
    monkeypatch.setattr(client_session_shared, "_WITH_TRANSACTION_RETRY_TIME_LIMIT", 1.0)
    settings = settings.model_copy(update={"consumer_outage_hold_seconds": 60.0})  # held, not put back, here
    url = settings.rabbitmq_url.get_secret_value()
    app = create_app(dispatch(), settings)
    async with AsyncTestClient(app) as client:
        await publish(url, [job_requested(1)])

        async def consumed(n: int):
            scraped = await scrape(client)
            return (
                scraped
                if value(scraped, "compressor_events_consumed_total", queue=QUEUE, type=JOB_REQUESTED) == n
                else None
            )

        await eventually(lambda: consumed(1), timeout=20)
        await asyncio.to_thread(mongod.stop)
        await publish(url, [job_requested(2), job_requested(3)])

        async def held():
            scraped = await scrape(client)
            return scraped if value(scraped, "compressor_consumer_held_deliveries", queue=QUEUE) >= 1 else None

        started = time.monotonic()
        during = await eventually(held, timeout=20)
        assert time.monotonic() - started < 20
        assert value(during, "compressor_consumer_outage_pauses_total", queue=QUEUE) >= 1
        assert value(during, "compressor_metrics_sample_failures_total", sampler="outbox") >= 1
        assert total(during, "compressor_dead_letters_total") == total(during, "compressor_consumer_retries_total") == 0
        scrape_started = time.monotonic()
        await scrape(client)
        assert time.monotonic() - scrape_started < SAMPLE_TIMEOUT_SECONDS + 1  # bounded while MongoDB is away

        await asyncio.to_thread(mongod.start)
        after = await eventually(lambda: consumed(3), timeout=60, interval=0.2)

    assert value(after, "compressor_consumer_held_deliveries", queue=QUEUE) == 0
    assert value(after, "compressor_inbox_duplicates_total", queue=QUEUE, type=JOB_REQUESTED) == 0
    assert total(after, "compressor_dead_letters_total") == 0
