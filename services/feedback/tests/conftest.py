"""Feedback test harness: a real local SMTP server (aiosmtpd), a real local HTTP webhook receiver,
the app on the real RabbitMQ/MongoDB with a manual clock, and the kit's tap on the events exchange."""

from __future__ import annotations

import email
import email.policy
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from litestar.testing import AsyncTestClient

from compressor_contracts import CloudEvent, EventData
from compressor_contracts.common import Contact, Customer, Language, NotificationChannel
from compressor_contracts.examples import CUSTOMER, example
from compressor_kit.clock import ManualClock
from compressor_kit.testing.events import EventTap, as_event, publish_events
from compressor_kit.testing.harness import running_service
from compressor_kit.testing.ports import free_port
from feedback_service.app import SERVICE
from feedback_service.settings import FeedbackSettings

MANAGERS = ["ops-manager@compressor.example", "service-director@compressor.example"]
RETRY_BASE_SECONDS = 60


class MailSink:
    """aiosmtpd handler keeping every accepted message; `refuse` makes it answer 451 (try later)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse = False
        self.refused = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            self.refused += 1
            return "451 4.3.0 mailbox temporarily unavailable"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]

    @staticmethod
    def subject(message: Message) -> str:
        return " ".join(str(message["Subject"]).split())  # unfolded

    @staticmethod
    def body(message: Message) -> str:
        return message.get_content()


@pytest.fixture
def smtp() -> Iterator[tuple[MailSink, int]]:
    sink = MailSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@dataclass
class WebhookReceiver:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 204


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    port = free_port()
    receiver = WebhookReceiver(url=f"http://127.0.0.1:{port}/hooks/compressor")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(receiver.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def feedback_settings_for(test_settings, smtp):
    _, port = smtp

    def build(**overrides) -> FeedbackSettings:
        values = dict(
            test_settings.model_dump(),
            smtp_port=port,
            management_emails=",".join(MANAGERS),
            delivery_interval_seconds=0.1,
            survey_expiry_interval_seconds=0.1,
            delivery_retry_base_seconds=RETRY_BASE_SECONDS,
            webhook_timeout_seconds=5,
            survey_ttl_hours=24,
            public_base_url="https://service.example.test",
            portal_url="https://portal.example.test",
            # The receiver below listens on http://127.0.0.1: allowed here explicitly (test environment only).
            webhook_allow_internal_hosts=True,
        )
        values.update(overrides)
        return FeedbackSettings(**values)

    return build


@dataclass
class Harness:
    client: AsyncTestClient
    tap: EventTap
    url: str
    clock: ManualClock
    settings: FeedbackSettings

    async def publish(self, data: EventData) -> CloudEvent:
        """Publish an event as its producer would."""
        event = as_event(data)
        await publish_events(self.url, event)
        return event

    async def republish(self, event: CloudEvent) -> None:
        """The same event again, as after a broker redelivery or a producer's relay repeating itself."""
        await publish_events(self.url, event)


@pytest.fixture
async def harness_for(test_settings, feedback_settings_for, clock) -> AsyncIterator:
    async with AsyncExitStack() as started:

        async def start(**overrides) -> Harness:
            settings = feedback_settings_for(**overrides)
            running = await started.enter_async_context(running_service(SERVICE, settings, clock=clock))
            return Harness(client=running.client, tap=running.tap, url=running.amqp_url, clock=clock, settings=settings)

        yield start


@pytest.fixture
async def harness(harness_for) -> Harness:
    return await harness_for()


class JobStory:
    """The events of one job, built from the contract examples with this job's id, contact and customer."""

    def __init__(self, job_id: str, contact: Contact, customer: Customer) -> None:
        self.job_id = job_id
        self.contact = contact
        self.customer = customer

    def data(self, routing_key: str, **changes: Any) -> EventData:
        return example(routing_key).model_copy(update={"job_id": self.job_id, **changes})

    def requested(self) -> EventData:
        return self.data("job.requested.v1", contact=self.contact, customer=self.customer)


@pytest.fixture
def story() -> Callable[..., JobStory]:
    def make(
        preferred: str = "email",
        email_address: str | None = "amir.hassan@example.com.my",
        language: str = "en",
        customer_id: str = CUSTOMER.customer_id,
    ) -> JobStory:
        contact = Contact(
            name="Amir Hassan",
            role="Plant maintenance lead",
            phone="+60123456789",
            email=email_address,
            preferred_channel=NotificationChannel(preferred),
            language=Language(language),
        )
        customer = Customer(customer_id=customer_id, name=CUSTOMER.name)
        return JobStory(f"JOB-{uuid.uuid4().hex[:8].upper()}", contact, customer)

    return make
