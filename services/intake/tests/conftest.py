"""Fixtures of intake's tests: the app on the real servers with a manual clock, tokens per role,
and a tap that sees every event published in the test's vhost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from compressor_kit.auth import DevelopmentTokens
from compressor_kit.clock import ManualClock
from compressor_kit.testing.events import EventTap
from compressor_kit.testing.harness import RunningService, running_service
from intake_service.app import SERVICE
from intake_service.settings import IntakeSettings

from .intake_support import bearer

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


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


@pytest.fixture
async def intake(settings, clock) -> AsyncIterator[RunningService]:
    async with running_service(SERVICE, settings, clock=clock) as running:
        yield running


@pytest.fixture
def events(intake: RunningService) -> EventTap:
    """Every event published in this test's vhost, in publish order."""
    return intake.tap


@pytest.fixture
def client(intake: RunningService):
    return intake.client


@dataclass
class People:
    reception: dict[str, str]
    manager: dict[str, str]
    engineer: dict[str, str]
    tokens: DevelopmentTokens

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
