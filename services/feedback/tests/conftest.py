"""Feedback test harness: a real local SMTP server (aiosmtpd), a real local HTTP webhook receiver,
the app on the real RabbitMQ/MongoDB with a manual clock, and a tap on the events exchange."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aio_pika
import pytest
from aiosmtpd.controller import Controller
from litestar.testing import AsyncTestClient

from compressor_contracts import EXCHANGE, CloudEvent, EventData, new_event
from compressor_contracts.common import Contact, NotificationChannel
from compressor_contracts.examples import example
from compressor_kit.clock import ManualClock
from compressor_kit.http import create_app
from compressor_kit.testing import eventually
from feedback_service.app import SERVICE
from feedback_service.settings import FeedbackSettings

MANAGERS = ["ops-manager@compressor.example", "service-director@compressor.example"]
RETRY_BASE_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        )
        values.update(overrides)
        return FeedbackSettings(**values)

    return build


class EventTap:
    """A queue bound to every routing key of the events exchange: what the service published."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: list[dict[str, Any]] = []

    async def start(self) -> None:
        self.connection = await aio_pika.connect(self.url)
        channel = await self.connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        self.queue = await channel.declare_queue("test.tap", exclusive=True)
        await self.queue.bind(exchange, routing_key="#")

    async def stop(self) -> None:
        await self.connection.close()

    async def poll(self) -> None:
        while (message := await self.queue.get(no_ack=True, fail=False)) is not None:
            self.seen.append(json.loads(message.body))

    async def of(self, routing_key: str) -> list[dict[str, Any]]:
        await self.poll()
        name = routing_key.rsplit(".v", 1)[0]
        return [e for e in self.seen if e["type"] == f"com.compressorservice.{name}.v1" and e["source"] != "/tests"]

    async def wait_for(self, routing_key: str, count: int = 1, timeout: float = 30) -> list[dict[str, Any]]:
        async def enough():
            found = await self.of(routing_key)
            return found if len(found) >= count else None

        return await eventually(enough, timeout=timeout)


@dataclass
class Harness:
    client: AsyncTestClient
    tap: EventTap
    url: str
    clock: ManualClock
    settings: FeedbackSettings

    async def publish(self, data: EventData, *, event: CloudEvent | None = None) -> CloudEvent:
        """Publish an event as its producer would (or re-publish `event` as is: a redelivery)."""
        event = event or new_event(data, source_service=data.producer, subject=data.subject())
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(EXCHANGE)
            await exchange.publish(
                aio_pika.Message(
                    event.to_bytes(), content_type="application/cloudevents+json", message_id=event.id, delivery_mode=2
                ),
                routing_key=event.routing_key,
            )
        return event


@pytest.fixture
async def harness_for(test_settings, feedback_settings_for, clock) -> AsyncIterator:
    started: list[tuple[AsyncTestClient, EventTap]] = []

    async def start(**overrides) -> Harness:
        settings = feedback_settings_for(**overrides)
        url = test_settings.rabbitmq_url.get_secret_value()
        tap = EventTap(url)
        await tap.start()
        client = AsyncTestClient(create_app(SERVICE, settings, clock=clock), timeout=30)
        await client.__aenter__()
        started.append((client, tap))
        return Harness(client=client, tap=tap, url=url, clock=clock, settings=settings)

    yield start
    for client, tap in started:
        await client.__aexit__(None, None, None)
        await tap.stop()


@pytest.fixture
async def harness(harness_for) -> Harness:
    return await harness_for()


async def settle(seconds: float = 1.0) -> None:
    """Give the app's worker rounds time to run (used only before asserting that nothing more happens)."""
    await asyncio.sleep(seconds)


class JobStory:
    """The events of one job, built from the contract examples with this job's id and contact."""

    def __init__(self, job_id: str, contact: Contact) -> None:
        self.job_id = job_id
        self.contact = contact

    def data(self, routing_key: str, **changes: Any) -> EventData:
        return example(routing_key).model_copy(update={"job_id": self.job_id, **changes})

    def requested(self) -> EventData:
        return self.data("job.requested.v1", contact=self.contact)


@pytest.fixture
def story() -> Callable[..., JobStory]:
    def make(preferred: str = "email", email_address: str | None = "amir.hassan@example.com.my") -> JobStory:
        contact = Contact(
            name="Amir Hassan",
            role="Plant maintenance lead",
            phone="+60123456789",
            email=email_address,
            preferred_channel=NotificationChannel(preferred),
        )
        return JobStory(f"JOB-{uuid.uuid4().hex[:8].upper()}", contact)

    return make
