"""One service running inside a test: its app (HTTP and consumers) and a tap on what it publishes.

async with running_service(SERVICE, settings, clock=clock, bindings=("job.#",)) as service:
    await service.publish(event)
    response = await service.client.post(...)
    [assigned] = await service.tap.take(1)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from compressor_contracts import CloudEvent
from compressor_kit.clock import Clock
from compressor_kit.http import create_app
from compressor_kit.runtime import ServiceDefinition
from compressor_kit.settings import Settings
from compressor_kit.testing.events import EventTap, publish_events


@dataclass
class RunningService:
    client: AsyncTestClient[Litestar]
    tap: EventTap
    settings: Settings
    amqp_url: str

    async def publish(self, *events: CloudEvent[Any]) -> None:
        """Publish `events` as their producers would (the same event again stands for a redelivery)."""
        await publish_events(self.amqp_url, *events)


@asynccontextmanager
async def running_service(
    definition: ServiceDefinition[Any],
    settings: Settings,
    *,
    clock: Clock | None = None,
    bindings: tuple[str, ...] = ("#",),
    timeout: float = 30.0,
) -> AsyncIterator[RunningService]:
    """The service started on `settings` (its own vhost, database and buckets), the tap listening
    before the service publishes anything; both stopped afterwards."""
    amqp_url = settings.rabbitmq_url.get_secret_value()
    async with EventTap(amqp_url, *bindings) as tap:
        async with AsyncTestClient(create_app(definition, settings, clock=clock), timeout=timeout) as client:
            yield RunningService(client=client, tap=tap, settings=settings, amqp_url=amqp_url)
