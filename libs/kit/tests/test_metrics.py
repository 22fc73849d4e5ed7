"""GET /metrics against the real RabbitMQ and MongoDB: the counters say exactly what happened."""

import logging

import aio_pika
from litestar.testing import AsyncTestClient

from compressor_contracts import EXCHANGE, CloudEvent
from compressor_contracts.events.intake import JobRequested
from compressor_contracts.examples import example
from compressor_kit.alerts import OUTBOX_EVENT_STUCK, raise_alert
from compressor_kit.consumer import Consumer
from compressor_kit.http import create_app
from compressor_kit.outbox import UnitOfWork
from compressor_kit.runtime import ServiceDefinition
from compressor_kit.testing import drain_queue, eventually
from compressor_kit.testing.metrics import scrape, total, value

from .test_consumer import QUEUE, job_requested, publish_raw

JOB_REQUESTED = "com.compressorservice.job.requested.v1"


def dispatch_with(handler, *metrics, background_jobs=()) -> ServiceDefinition:
    return ServiceDefinition(
        name="dispatch",
        default_port=0,
        description="test",
        consumers=[lambda runtime: [Consumer(QUEUE, {JobRequested: handler})]],
        metrics=metrics,
        background_jobs=background_jobs,
    )


async def test_a_scrape_counts_requests_events_duplicates_retries_and_dead_letters_exactly(test_settings):
    attempts: dict[str, int] = {}

    async def handle(event: CloudEvent, uow: UnitOfWork) -> None:
        attempts[event.subject] = attempts.get(event.subject, 0) + 1
        if event.subject == "JOB-FLAKY" and attempts[event.subject] == 1:
            raise RuntimeError("catalogue briefly unreachable")

    url = test_settings.rabbitmq_url.get_secret_value()
    app = create_app(dispatch_with(handle), test_settings)
    async with AsyncTestClient(app) as client:
        for _ in range(2):
            assert (await client.get("/health/live")).status_code == 200
        assert (await client.get("/no/such/SECRET-TOKEN")).status_code == 404

        once = job_requested("JOB-1")
        for _ in range(2):  # the same event delivered twice: applied once, absorbed once
            await publish_raw(url, once.model_dump_json().encode())
        await publish_raw(url, job_requested("JOB-FLAKY").model_dump_json().encode())
        await publish_raw(url, b"not json at all")  # poison: dead-lettered at once
        await drain_queue(url, "dispatch.dead-letters", expect=1)

        async def all_settled() -> bool:
            scraped = await scrape(client)
            consumed = value(scraped, "compressor_events_consumed_total", queue=QUEUE, type=JOB_REQUESTED)
            duplicates = value(scraped, "compressor_inbox_duplicates_total", queue=QUEUE, type=JOB_REQUESTED)
            return consumed == 2 and duplicates == 1

        await eventually(all_settled)
        scraped = await scrape(client)

    assert value(scraped, "compressor_http_requests_total", method="GET", route="/health/live", status="200") == 2
    # an unrouted path counts under the placeholder template, never under its raw (perhaps secret) path
    assert value(scraped, "compressor_http_requests_total", method="GET", route="/{unmatched}", status="404") == 1
    assert not any("SECRET-TOKEN" in str(labels) for _, labels in scraped)
    assert value(scraped, "compressor_http_request_duration_seconds_count", method="GET", route="/health/live") == 2
    assert value(scraped, "compressor_events_consumed_total", queue=QUEUE, type=JOB_REQUESTED) == 2
    assert value(scraped, "compressor_inbox_duplicates_total", queue=QUEUE, type=JOB_REQUESTED) == 1
    assert value(scraped, "compressor_event_handler_duration_seconds_count", queue=QUEUE, type=JOB_REQUESTED) == 3
    assert value(scraped, "compressor_consumer_retries_total", queue=QUEUE, reason="RuntimeError") == 1
    assert value(scraped, "compressor_dead_letters_total", queue=QUEUE, reason="ContractError") == 1
    assert total(scraped, "compressor_dead_letters_total") == 1
    assert total(scraped, "compressor_consumer_retries_total") == 1
    assert value(scraped, "compressor_outbox_pending_events") == 0
    assert value(scraped, "compressor_outbox_oldest_pending_age_seconds") == 0
    assert attempts == {"JOB-1": 1, "JOB-FLAKY": 2}


async def test_the_outbox_backlog_and_its_age_are_sampled_at_scrape_time_and_published_events_counted(
    test_settings,
):
    """An event no queue takes stays pending (its age grows); once a queue is bound, the relay publishes it."""

    async def assign(event: CloudEvent, uow: UnitOfWork) -> None:
        await uow.publish(example("job.assigned.v1").model_copy(update={"job_id": event.subject}), cause=event)

    url = test_settings.rabbitmq_url.get_secret_value()
    app = create_app(dispatch_with(assign), test_settings)
    async with AsyncTestClient(app) as client:
        await publish_raw(url, job_requested("JOB-7").model_dump_json().encode())

        async def pending_for_a_while() -> bool:
            scraped = await scrape(client)
            return (
                value(scraped, "compressor_outbox_pending_events") == 1
                and value(scraped, "compressor_outbox_oldest_pending_age_seconds") >= 0.5
            )

        await eventually(pending_for_a_while)
        connection = await aio_pika.connect(url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue("metrics-test.assigned", durable=True)
            await queue.bind(await channel.get_exchange(EXCHANGE), routing_key="job.assigned.v1")

        async def published() -> bool:
            scraped = await scrape(client)
            return value(scraped, "compressor_outbox_pending_events") == 0

        await eventually(published, timeout=15)
        scraped = await scrape(client)

    assert value(scraped, "compressor_events_published_total", type="com.compressorservice.job.assigned.v1") == 1
    assert value(scraped, "compressor_outbox_oldest_pending_age_seconds") == 0


async def test_alerts_and_service_gauges_count_for_their_own_service_only(test_settings):
    """Two services in one process: each registry holds its own counts and its own `metrics` hook's gauges."""

    def sla_gauge(runtime) -> None:
        gauge = runtime.metrics.gauge("compressor_test_jobs", "jobs", ("state",))

        async def sample() -> None:
            gauge.labels("breached").set(4)

        runtime.metrics.sample_before_scrape("test_jobs", sample)

    async def ignore(event: CloudEvent, uow: UnitOfWork) -> None:
        return None

    first = create_app(dispatch_with(ignore, sla_gauge, background_jobs=[raise_stuck_alert]), test_settings)
    second = create_app(dispatch_with(ignore), test_settings)
    async with AsyncTestClient(first) as one, AsyncTestClient(second) as other:

        async def counted() -> bool:
            return value(await scrape(one), "compressor_alerts_total", alert=OUTBOX_EVENT_STUCK) == 1

        await eventually(counted)
        scraped_one, scraped_other = await scrape(one), await scrape(other)

    assert value(scraped_one, "compressor_test_jobs", state="breached") == 4
    assert value(scraped_other, "compressor_alerts_total", alert=OUTBOX_EVENT_STUCK) == 0
    assert ("compressor_test_jobs", frozenset({("state", "breached")})) not in scraped_other


async def raise_stuck_alert(runtime) -> None:
    """A background job of the first service: raised from its own task, without a runtime at hand."""
    raise_alert(logging.getLogger("test"), OUTBOX_EVENT_STUCK, "event %s stuck", "E-1")
