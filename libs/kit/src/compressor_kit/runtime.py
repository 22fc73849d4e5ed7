"""What one running service is and holds.

A service describes itself once with a `ServiceDefinition` (its settings class, routes, consumers,
indexes, buckets and background jobs). The `Runtime` built from it holds everything the running
service shares: its typed settings, clock, database, outbox, object store, broker and turns.
Building it connects to nothing; `start` does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from litestar.types import ControllerRouterHandler
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from compressor_contracts import service_topology
from compressor_kit.auth import TokenVerifier
from compressor_kit.clock import Clock, SystemClock
from compressor_kit.consumer import INBOX_INDEXES, Consumer, PublisherCheck, subscribe
from compressor_kit.job_trace import JOB_TRACE_INDEXES
from compressor_kit.messaging import (
    broker_user,
    build_broker,
    consumer_channel,
    declare_topology,
    outbox_publisher,
    register_publishers,
)
from compressor_kit.metrics import ServiceMetrics
from compressor_kit.mongo import IndexSpec, create_client, ensure_indexes, ping
from compressor_kit.objectstore import ObjectStore
from compressor_kit.oidc import ProviderKeys
from compressor_kit.outbox import OUTBOX_INDEXES, Outbox, Publish
from compressor_kit.relay import OutboxRelay
from compressor_kit.retry import ItemRetry
from compressor_kit.settings import Settings
from compressor_kit.telemetry import setup_tracing
from compressor_kit.turns import Turns

log = logging.getLogger(__name__)

READINESS_TIMEOUT = 2.0
PROVIDER_KEYS_START_WAIT = 3.0
STOP_STEP_SECONDS = 10.0

S = TypeVar("S", bound=Settings)


@dataclass(frozen=True)
class ServiceDefinition(Generic[S]):
    """One service, declared once in its `app.py`."""

    name: str
    default_port: int
    description: str
    settings_type: type[S] = Settings  # type: ignore[assignment]  # a service with no settings of its own
    route_handlers: Sequence[ControllerRouterHandler] = ()
    # One factory per feature, each `def consumers(runtime) -> list[Consumer]` in its consumers.py.
    consumers: Sequence[Callable[[Runtime[S]], Sequence[Consumer]]] = ()
    # Every collection the service writes in a transaction, with its indexes (an empty list: none).
    indexes: IndexSpec = field(default_factory=dict)
    buckets: Sequence[str] = ()
    background_jobs: Sequence[Callable[[Runtime[S]], Coroutine[Any, Any, None]]] = ()
    # Run once at start, after the indexes and before anything is served or consumed (collections that
    # need options, such as time-series ones).
    setup: Sequence[Callable[[Runtime[S]], Coroutine[Any, Any, None]]] = ()
    # The service's own gauges: each `def metrics(runtime)` adds them to `runtime.metrics` with a sampler
    # run at scrape time (`ServiceMetrics.gauge`, `sample_before_scrape`).
    metrics: Sequence[Callable[[Runtime[S]], None]] = ()

    def settings_from(self, settings: Settings | None) -> S:
        """This service's settings: as given, or read from the environment (given base `Settings`, as
        the kit's tests do, its values are kept and the service's own fields come from the environment)."""
        if settings is None:
            return self.settings_type()
        if isinstance(settings, self.settings_type):
            return settings
        return self.settings_type(**settings.model_dump())


class Runtime(Generic[S]):
    """Everything one running service holds."""

    def __init__(
        self,
        definition: ServiceDefinition[S],
        settings: S,
        clock: Clock | None = None,
        *,
        wrap_publish: Callable[[Publish], Publish] | None = None,
    ) -> None:
        self.definition = definition
        self.settings: S = settings
        self.clock: Clock = clock or SystemClock()
        self.name = definition.name
        # Set once the server begins to stop (serve.py): long-lived responses, such as the console's event
        # streams, end at their next tick instead of holding the stop up to its grace period.
        self.draining = False
        self.tracer_provider = setup_tracing(definition.name)
        self.topology = service_topology(definition.name)
        self.mongo: AsyncMongoClient[dict[str, Any]] = create_client(settings)
        self.db: AsyncDatabase[dict[str, Any]] = self.mongo[settings.database_name(definition.name)]
        self.outbox = Outbox(
            self.mongo, self.db, definition.name, time_limit=settings.mongodb_transaction_timeout_seconds
        )
        self.objects = ObjectStore(settings, definition.buckets)
        self.http = httpx.AsyncClient()
        self.provider_keys = ProviderKeys(settings, self.http)
        self.token_verifier = TokenVerifier(settings, self.provider_keys)
        self.turns = Turns()
        self.metrics = ServiceMetrics()
        self.metrics.sample_outbox(self.db)
        self.broker = build_broker(settings, definition.name, self.tracer_provider, self.metrics)
        self.publishers = register_publishers(self.broker, definition.name, user_id=broker_user(settings))
        publishers = PublisherCheck.of(settings, definition.name)
        self.consumer_channel = consumer_channel(settings)
        for feature_consumers in definition.consumers:
            for consumer in feature_consumers(self):
                subscribe(
                    self.broker,
                    self.outbox,
                    self.turns,
                    self.topology,
                    consumer,
                    publishers=publishers,
                    metrics=self.metrics,
                    channel=self.consumer_channel,
                )
        publish = outbox_publisher(self.publishers, self.metrics, broker=self.broker)
        self.relay = OutboxRelay(
            self.outbox,
            wrap_publish(publish) if wrap_publish else publish,
            poll_interval=settings.outbox_poll_interval_seconds,
            lease_seconds=settings.outbox_lease_seconds,
            retry=ItemRetry(
                settings.outbox_retry_first_delay_seconds,
                settings.outbox_retry_max_delay_seconds,
                settings.outbox_max_attempts,
                settings.outbox_stuck_retry_seconds,
            ),
        )
        self._tasks: list[asyncio.Task[Any]] = []
        self._spawned: set[asyncio.Task[Any]] = set()
        for service_metrics in definition.metrics:
            service_metrics(self)

    async def start(self) -> None:
        self.metrics.make_current()  # before any task starts: alerts they raise count for this service
        self.settings.check_production()
        await ensure_indexes(
            self.db, {**OUTBOX_INDEXES, **INBOX_INDEXES, **JOB_TRACE_INDEXES, **self.definition.indexes}
        )
        for step in self.definition.setup:
            await step(self)
        await self.objects.ensure_buckets()
        await self.broker.connect()
        await declare_topology(self.broker, self.topology, consumers=self.consumer_channel)
        await self.broker.start()
        self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.name}-outbox-relay"))
        # Waited for briefly, then left to retry: a provider that is down delays sign-in (readiness says
        # so), not the service.
        keys = asyncio.create_task(self.provider_keys.keep_loaded(), name=f"{self.name}-provider-keys")
        self._tasks.append(keys)
        await asyncio.wait([keys], timeout=PROVIDER_KEYS_START_WAIT)
        for job in self.definition.background_jobs:
            self._tasks.append(asyncio.create_task(job(self), name=f"{self.name}-{job.__name__}"))
        log.info("%s started", self.name)

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> None:
        """Run `work` in the background for as long as the service runs (an on-demand backup): the
        runtime holds the task, so it is neither collected half-way nor left running after `stop`."""
        task = asyncio.create_task(work, name=f"{self.name}-{name}")
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    async def stop(self) -> None:
        """Stop within a bounded time: each step that does not end in STOP_STEP_SECONDS is logged and
        left behind, so one stuck connection cannot hold the process (or a test) forever."""
        self.relay.stop()
        self._tasks.extend(self._spawned)
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=STOP_STEP_SECONDS)
            for task in stuck:
                log.error("%s: task %s did not stop within %ss", self.name, task.get_name(), STOP_STEP_SECONDS)
        self._tasks.clear()
        await self._bounded("release the outbox lease", self.relay.release_lease())
        await self._bounded("stop the broker", self.broker.stop())
        await self._bounded("close MongoDB", self.mongo.close())
        await self._bounded("close the HTTP client", self.http.aclose())
        log.info("%s stopped", self.name)

    async def _bounded(self, step: str, work: Awaitable[Any]) -> None:
        try:
            await asyncio.wait_for(work, STOP_STEP_SECONDS)
        except TimeoutError:
            log.error("%s: could not %s within %ss", self.name, step, STOP_STEP_SECONDS)
        except Exception:
            log.exception("%s: could not %s", self.name, step)

    async def readiness(self) -> dict[str, str]:
        """Each dependency: "ok" or why not."""

        async def check(probe: Callable[[], Awaitable[Any]]) -> str:
            try:
                result = await asyncio.wait_for(probe(), READINESS_TIMEOUT)
            except Exception as exc:
                return f"unavailable: {type(exc).__name__}: {exc}"[:300]
            return "ok" if result is not False else "unavailable"

        rabbitmq, mongodb, objects = await asyncio.gather(
            check(lambda: self.broker.ping(READINESS_TIMEOUT)),
            check(lambda: ping(self.mongo)),
            check(self.objects.ping),
        )
        # Keys already held keep verifying tokens while the provider is away; without them nobody signs in.
        keys = "ok" if self.provider_keys.loaded else f"unavailable: {self.provider_keys.last_error}"
        return {"rabbitmq": rabbitmq, "mongodb": mongodb, "object_store": objects, "identity_provider": keys}
