"""After one whole job through the six services (separate processes), each service's /metrics tells what
happened: every event of the job published once by its producer, consumed and none dead-lettered, the
outbox drained, no server error, and no job id in any label."""

from __future__ import annotations

import httpx
import pytest

from compressor_contracts import CATALOGUE
from compressor_contracts import PRODUCERS as SERVICES
from compressor_kit.testing import eventually
from compressor_kit.testing.mail import mail_server
from compressor_kit.testing.metrics import Samples, scrape, total, value
from demo.flow import EVENTS_OF_ONE_JOB, Office, run_job
from demo.stack import Stack

pytestmark = pytest.mark.slow


def event_type(routing_key: str) -> str:
    return f"com.compressorservice.{routing_key}"


async def test_each_services_metrics_after_a_whole_job_count_what_happened(test_settings, database_prefix, tmp_path):
    amqp_url = test_settings.rabbitmq_url.get_secret_value()
    with mail_server() as (_, smtp_port):
        stack = Stack(
            rabbitmq_url=amqp_url,
            database_prefix=database_prefix,
            bucket_prefix=test_settings.s3_bucket_prefix,
            log_dir=tmp_path / "logs",
            replicas=1,
            env={
                "SMTP_PORT": str(smtp_port),
                "REPORT_PUBLISH_INTERVAL_SECONDS": "0.5",
                "DELIVERY_INTERVAL_SECONDS": "0.5",
            },
        )
        with stack:
            async with httpx.AsyncClient(timeout=30) as client:
                office = Office(stack.urls(), client, test_settings)
                await office.stock_parts_for(1)
                result = await run_job(office)

                async def job_done() -> dict[str, Samples] | None:
                    scraped = {s: await scrape(client, f"{stack.url(s)}/metrics") for s in SERVICES}
                    published = sum(
                        value(m, "compressor_events_published_total", type=event_type("customer_file.updated.v1"))
                        for m in scraped.values()
                    )
                    drained = all(value(m, "compressor_outbox_pending_events") == 0 for m in scraped.values())
                    return scraped if published == 1 and drained else None

                scraped = await eventually(job_done, timeout=60, interval=0.5)

    for routing_key, expected in EVENTS_OF_ONE_JOB.items():
        producer = CATALOGUE[routing_key].producer
        published = value(scraped[producer], "compressor_events_published_total", type=event_type(routing_key))
        assert published == expected, (routing_key, published)
    # The job's first event was consumed by the services whose queues take it, each exactly once.
    requested = event_type("job.requested.v1")
    assert total(scraped["dispatch"], "compressor_events_consumed_total", type=requested) == 1
    for service, metrics in scraped.items():
        assert total(metrics, "compressor_dead_letters_total") == 0, service
        assert value(metrics, "compressor_outbox_stuck_events") == 0, service
        server_errors = [
            (labels, v)
            for (name, labels), v in metrics.items()
            if name == "compressor_http_requests_total" and dict(labels)["status"].startswith("5") and v
        ]
        assert not server_errors, (service, server_errors)
        assert not [key for key in metrics if result.job_id in str(key)], f"{service}: a job id in a label"
    assert (
        total(scraped["dispatch"], "compressor_http_requests_total", route="/jobs/{job_id}/prediagnosis", status="201")
        == 1
    )
