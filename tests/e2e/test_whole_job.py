"""The whole job: the demo's flow against the six services started as separate processes.

An independent subscriber (an integration) sees every phase's events in causal order, each a valid
contract event; the record, the PDF, the survey answer, the review and the customer file are
checked; every span of the job, collected over OTLP, shares one trace id across all six services.
Run once with one process per service and once with two replicas of every service.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter

import httpx
import pytest
from minio import Minio

from compressor_contracts import PRODUCERS as SERVICES  # the six phase services the stack runs (not the console)
from compressor_kit.testing import eventually
from compressor_kit.testing.mail import mail_server
from compressor_kit.testing.watcher import EventWatcher
from demo.flow import EVENTS_OF_ONE_JOB, Office, run_job
from demo.otlp import OtlpReceiver
from demo.stack import Stack

pytestmark = pytest.mark.slow

EXPECTED = EVENTS_OF_ONE_JOB


class RoundRobin(dict):
    """Service URLs where each lookup takes the next replica: people's requests spread over replicas."""

    def __init__(self, stack: Stack) -> None:
        super().__init__()
        self._cycles = {s: itertools.cycle([stack.url(s, r) for r in range(stack.replicas)]) for s in SERVICES}

    def __getitem__(self, service: str) -> str:
        return next(self._cycles[service])


@pytest.fixture
def mailbox():
    with mail_server() as (box, port):
        yield box, port


@pytest.mark.parametrize("replicas", [1, 2], ids=["one-process-each", "two-replicas-each"])
async def test_one_job_through_all_nine_phases_across_six_services(
    replicas, test_settings, database_prefix, mailbox, tmp_path
):
    box, smtp_port = mailbox
    amqp_url = test_settings.rabbitmq_url.get_secret_value()
    with OtlpReceiver() as otlp:
        stack = Stack(
            rabbitmq_url=amqp_url,
            database_prefix=database_prefix,
            bucket_prefix=test_settings.s3_bucket_prefix,
            log_dir=tmp_path / "logs",
            replicas=replicas,
            env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
                "OTEL_BSP_SCHEDULE_DELAY": "200",
                "SMTP_PORT": str(smtp_port),
                "REPORT_PUBLISH_INTERVAL_SECONDS": "0.5",
                "DELIVERY_INTERVAL_SECONDS": "0.5",
            },
        )
        async with EventWatcher(amqp_url) as watcher:
            with stack:
                async with httpx.AsyncClient(timeout=30) as client:
                    office = Office(RoundRobin(stack), client, test_settings)
                    await office.stock_parts_for(1)
                    result = await run_job(office)
                    job = result.job_id

                    # Every event of the job arrived once, valid, in causal order.
                    await watcher.wait_for(job, "customer_file.updated.v1")
                    await watcher.wait_for(job, "job.survey_sent.v1")
                    events = watcher.of_job(job)
                    assert not watcher.invalid, watcher.invalid
                    counts = Counter(e.data.routing_key() for e in events)
                    for routing_key, expected in EXPECTED.items():
                        assert counts[routing_key] == expected, (routing_key, counts)
                    assert len({e.id for e in events}) == len(events), "an event was delivered twice"
                    position = {e.id: i for i, e in enumerate(events)}
                    for i, event in enumerate(events):
                        if event.causationid in position:
                            assert position[event.causationid] < i, f"{event.type} arrived before its cause"
                    assert {e.correlationid for e in events} == {events[0].id}
                    assert events[0].data.routing_key() == "job.requested.v1"
                    # Causal order along the chain the services follow (people's actions between them take
                    # hours in real life; here they may overtake each other's relays, and that is fine).
                    chain = ["job.requested.v1", "job.assigned.v1", "job.work_completed.v1", "job.inspection_failed.v1"]
                    chain += ["job.inspection_passed.v1", "job.report_published.v1", "job.closed.v1"]
                    chain += ["customer_file.updated.v1"]
                    firsts = [next(i for i, e in enumerate(events) if e.data.routing_key() == k) for k in chain]
                    assert firsts == sorted(firsts), [events[i].type for i in firsts]
                    assert {e.data.phase for e in events if e.data.phase} == set(range(1, 10))

                    # The record, the PDF in the object store, the survey, the review, the customer file.
                    staff = office.manager
                    record = await staff.get("reporting", f"/jobs/{job}/record")
                    assert record["status"] == "published" and record["version"] == 1
                    assert len(record.get("versions", [record])) == 1
                    pdf = await client.get(result.report_link["url"])
                    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
                    assert hashlib.sha256(pdf.content).hexdigest() == record["report"]["sha256"]
                    store = Minio(
                        test_settings.s3_endpoint,
                        access_key=test_settings.s3_access_key,
                        secret_key=test_settings.s3_secret_key.get_secret_value(),
                        secure=False,
                    )
                    reports = [
                        o
                        for o in store.list_objects(record["report"]["bucket"], recursive=True, include_version=True)
                        if job in o.object_name
                    ]
                    # One report, rendered once in each language (the customer's is the one published).
                    assert sorted(o.object_name.split("/")[-2] for o in reports) == ["en", "ms"], [
                        o.object_name for o in reports
                    ]
                    assert record["report"]["object_key"].split("/")[-2] == "ms"  # the demo's customer reads Malay
                    feedback = await staff.get("feedback", f"/jobs/{job}/feedback")
                    assert feedback["survey_status"] == "answered" and feedback["csat"] == 5 and feedback["nps"] == 9
                    assert feedback["review"]["memo"].startswith("Thermostatic valve replaced")
                    assert feedback["closed_at"]
                    history = [
                        entry
                        for site in result.customer_file["sites"]
                        for unit in site["equipment"]
                        for entry in unit["history"]
                    ]
                    assert [h["job_id"] for h in history] == [job]
                    assert history[0]["csat"] == 5 and history[0]["inspection_rounds"] == 2

                    # Notifications: each sent once, and every e-mail really reached the SMTP server once.
                    async def all_settled():
                        page = await staff.get("feedback", f"/jobs/{job}/notifications", params={"limit": 200})
                        return page if all(n["status"] in ("delivered", "withdrawn") for n in page["items"]) else None

                    notifications = await eventually(all_settled, timeout=30)
                    sent = [n for n in notifications["items"] if n["status"] == "delivered"]
                    keys = [(n["template"], n["about_event_id"], n["recipient"]) for n in sent]
                    assert len(keys) == len(set(keys)) and sent
                    to_customer = sorted(n["notification_id"] for n in sent if n["audience"] == "customer")

                    async def customer_notified():
                        notified = [e for e in watcher.of_job(job) if e.data.routing_key() == "customer.notified.v1"]
                        return sorted(e.data.notification_id for e in notified) == to_customer

                    await eventually(customer_notified, timeout=30)

                    async def all_mail_received():
                        return len(box.messages) >= len([n for n in sent if n["channel"] == "email"])

                    await eventually(all_mail_received, timeout=30)
                    message_ids = [m.content for m in box.messages if job.encode() in m.content]
                    assert len(message_ids) == len([n for n in sent if n["channel"] == "email"])

            # The processes are stopped: their span exporters have flushed.
            spans = otlp.in_trace(result.trace_id)
            assert {s.service for s in spans} == set(SERVICES), Counter(s.service for s in spans)
            event_ids = {e.id for e in events}
            messaging = [s for s in otlp.spans if s.attributes.get("messaging.message.id") in event_ids]
            assert messaging and {s.trace_id for s in messaging} == {result.trace_id}
            # Every request on the job, by anyone, made once the service knew the job, joined the job's
            # trace. A service knows the job once its first request or consumed event on the job has
            # committed (the end of that server or consumer span); a request arriving before, even by a
            # millisecond, had no trace to join.
            server_or_consumer = (2, 5)
            known_since: dict[str, int] = {}
            for s in spans:
                if s.kind in server_or_consumer:
                    known_since[s.service] = min(known_since.get(s.service, s.end_ns), s.end_ns)
            requests_on_job = [
                s
                for s in otlp.spans
                if s.kind == 2  # SERVER
                and s.attributes.get("job.id") == job
                and s.start_ns > known_since[s.service]
            ]
            strays = [(s.service, s.name, s.trace_id) for s in requests_on_job if s.trace_id != result.trace_id]
            assert requests_on_job and not strays, strays
            # Spans name routes by their template: no request span carries the job id in its path or name.
            assert not [s.name for s in otlp.spans if s.kind == 2 and job in s.name + str(s.attributes.get("url.path"))]
            assert any(s.attributes.get("db.system") == "mongodb" for s in spans), "database calls are child spans"
