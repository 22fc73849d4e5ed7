"""Fixtures of intake's tests: the app on the real servers with a manual clock, tokens per role,
a customer file to work with, and a capture queue that sees every event published in the vhost."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import pytest
from litestar.testing import AsyncTestClient

from compressor_contracts import EXCHANGE, CloudEvent, parse_event
from compressor_kit.clock import ManualClock
from compressor_kit.http import create_app
from compressor_kit.testing import drain_queue
from intake_service.app import SERVICE
from intake_service.settings import IntakeSettings

sys.path.insert(0, str(Path(__file__).parent))  # the tests import intake_support

from intake_support import bearer

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CAPTURE = "test.capture"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def settings(test_settings) -> IntakeSettings:
    # The periodic scheduler runs once at start-up, then only when a test triggers it.
    return IntakeSettings(**{**test_settings.model_dump(), "proactive_scan_interval_seconds": 3600})


@pytest.fixture
def amqp_url(test_settings) -> str:
    return test_settings.rabbitmq_url.get_secret_value()


class Events:
    """Every event published in this test's vhost, in publish order (a queue bound to '#')."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def take(self, count: int, timeout: float = 30.0) -> list[CloudEvent]:
        messages = await drain_queue(self.url, CAPTURE, expect=count, timeout=timeout)
        return [parse_event(m.body) for m in messages]

    async def take_until(self, event_type: str, subject: str, timeout: float = 30.0) -> list[CloudEvent]:
        """Events up to and including the first `event_type` about `subject`: a marker that proves
        everything published before it has arrived (the relay publishes in commit order)."""
        taken: list[CloudEvent] = []
        while True:
            [event] = await self.take(1, timeout)
            taken.append(event)
            if event.type.endswith(f".{event_type}.v1") and event.subject == subject:
                return taken


@pytest.fixture
async def events(amqp_url) -> Events:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(CAPTURE, durable=True)
        await queue.bind(exchange, "#")
    return Events(amqp_url)


@pytest.fixture
async def client(settings, clock, events):
    async with AsyncTestClient(create_app(SERVICE, settings, clock=clock)) as client:
        yield client


@dataclass
class People:
    reception: dict[str, str]
    manager: dict[str, str]
    engineer: dict[str, str]
    tokens: object

    def customer(self, customer_id: str) -> dict[str, str]:
        return bearer(self.tokens.mint(customer_id, ["customer"]))


@pytest.fixture
def people(tokens) -> People:
    return People(
        reception=bearer(tokens.mint("u-reception-3", ["reception"], name="Nurul Izzah")),
        manager=bearer(tokens.mint("u-manager-1", ["manager"], name="Tan Mei Ling")),
        engineer=bearer(tokens.mint("ENG-014", ["engineer"], name="Lim Wei Jie")),
        tokens=tokens,
    )
