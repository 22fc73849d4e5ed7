"""Fixtures for dispatch tests on the real servers: the app on a manual clock and tokens."""

from __future__ import annotations

import pytest

from compressor_kit.clock import ManualClock
from compressor_kit.testing.harness import running_service
from dispatch_service.app import SERVICE
from dispatch_service.settings import DispatchSettings

from .dispatch_support import MONDAY_8, bearer


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_8)


@pytest.fixture
def settings(test_settings) -> DispatchSettings:
    return DispatchSettings(
        **test_settings.model_dump(),
        dispatch_seed_engineers=False,
        sla_monitor_interval_seconds=3600,  # tests run rounds through POST /sla/checks after moving the clock
    )


@pytest.fixture
async def client(settings, clock):
    async with running_service(SERVICE, settings, clock=clock) as running:
        yield running.client


@pytest.fixture
def amqp_url(settings) -> str:
    return settings.rabbitmq_url.get_secret_value()


@pytest.fixture
def as_dispatcher(tokens) -> dict[str, str]:
    return bearer(tokens, "DSP-7", "dispatcher")
