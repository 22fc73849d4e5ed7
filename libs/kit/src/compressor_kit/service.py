"""The one composition root every service uses.

A service describes itself with a `ServiceDefinition` (its routes, its consumers, its indexes
and buckets); `create_app` builds the Litestar app whose lifespan runs everything in one
process: HTTP, the FastStream subscribers, the outbox relay and any background jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from litestar import Litestar, Request, get
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.types import ControllerRouterHandler

from compressor_contracts import service_topology
from compressor_kit.auth import TokenAuthority, public
from compressor_kit.consumer import INBOX_INDEXES, Consumer, subscribe
from compressor_kit.logs import configure_logging
from compressor_kit.messaging import build_broker, declare_topology, outbox_publisher, register_publishers
from compressor_kit.mongo import IndexSpec, create_client, ensure_indexes, ping
from compressor_kit.objectstore import ObjectStore
from compressor_kit.outbox import OUTBOX_INDEXES, Outbox, OutboxRelay
from compressor_kit.problems import EXCEPTION_HANDLERS, problem_response
from compressor_kit.settings import Settings
from compressor_kit.telemetry import setup_tracing

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
READINESS_TIMEOUT = 2.0


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    default_port: int
    description: str
    route_handlers: Sequence[ControllerRouterHandler] = ()
    consumers: Callable[[Runtime], Sequence[Consumer]] = lambda runtime: ()
    indexes: IndexSpec = field(default_factory=dict)
    buckets: Sequence[str] = ()
    background_jobs: Sequence[Callable[[Runtime], Awaitable[None]]] = ()


class Runtime:
    """Everything one running service holds. Building it connects to nothing; `start` does."""

    def __init__(self, definition: ServiceDefinition, settings: Settings) -> None:
        self.definition = definition
        self.settings = settings
        self.name = definition.name
        self.tracer_provider = setup_tracing(definition.name)
        self.topology = service_topology(definition.name)
        self.mongo = create_client(settings)
        self.db = self.mongo[settings.database_name(definition.name)]
        self.outbox = Outbox(self.mongo, self.db, definition.name)
        self.objects = ObjectStore(settings, definition.buckets)
        self.tokens = TokenAuthority(settings)
        self.broker = build_broker(settings, definition.name, self.tracer_provider)
        self.publishers = register_publishers(self.broker, definition.name)
        for consumer in definition.consumers(self):
            subscribe(self.broker, self.outbox, self.topology, consumer)
        self.relay = OutboxRelay(
            self.outbox,
            outbox_publisher(self.publishers),
            poll_interval=settings.outbox_poll_interval_seconds,
            lease_seconds=settings.outbox_lease_seconds,
        )
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.settings.check_production()
        await ensure_indexes(self.db, {**OUTBOX_INDEXES, **INBOX_INDEXES, **self.definition.indexes})
        await self.objects.ensure_buckets()
        await self.broker.connect()
        await declare_topology(self.broker, self.topology)
        await self.broker.start()
        self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.name}-outbox-relay"))
        for job in self.definition.background_jobs:
            self._tasks.append(asyncio.create_task(job(self), name=f"{self.name}-{job.__name__}"))
        log.info("%s started", self.name)

    async def stop(self) -> None:
        self.relay.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await self.relay.release_lease()
        await self.broker.stop()
        await self.mongo.close()
        log.info("%s stopped", self.name)

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
        return {"rabbitmq": rabbitmq, "mongodb": mongodb, "object_store": objects}


@get("/health/live", **public(), include_in_schema=False, sync_to_thread=False)
def live() -> dict[str, str]:
    return {"status": "live"}


@get("/health/ready", **public(), include_in_schema=False)
async def ready(request: Request, runtime: NamedDependency[Runtime]) -> Any:
    checks = await runtime.readiness()
    if all(state == "ok" for state in checks.values()):
        return {"status": "ready", "service": runtime.name, "checks": checks}
    return problem_response(request, 503, "a dependency is unavailable", checks=checks)


def create_app(definition: ServiceDefinition, settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    configure_logging(definition.name, settings.log_level)
    runtime = Runtime(definition, settings)
    app = Litestar(
        route_handlers=[live, ready, *definition.route_handlers],
        dependencies={"runtime": Provide(lambda: runtime, sync_to_thread=False)},
        on_startup=[runtime.start],
        on_shutdown=[runtime.stop],
        exception_handlers=EXCEPTION_HANDLERS,
        plugins=[OpenTelemetryPlugin(OpenTelemetryConfig(tracer_provider=runtime.tracer_provider))],
        openapi_config=OpenAPIConfig(
            title=f"{definition.name} service",
            version="1.0.0",
            description=definition.description,
            path="/schema",
            components=Components(
                security_schemes={"BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
        ),
        request_max_body_size=MAX_BODY_BYTES,
        logging_config=None,  # logs are configured once, as JSON, by configure_logging
    )
    app.state.runtime = runtime
    app.state.token_authority = runtime.tokens
    _require_declared_roles(app)
    return app


def _require_declared_roles(app: Litestar) -> None:
    """Every route states who may call it: roles via `requires(...)`, or `public()`."""
    undeclared = []
    for route in app.routes:
        if route.path.startswith("/schema"):
            continue  # the OpenAPI document is open by design
        for handler in route.route_handlers:  # type: ignore[union-attr]
            if handler.handler_name == "options_handler":
                continue  # Litestar's automatic OPTIONS answer
            if not (handler.opt.get("roles") or handler.opt.get("public")):
                undeclared.append(f"{route.path} ({handler.handler_name})")
    if undeclared:
        raise RuntimeError("routes without a declared role: " + ", ".join(undeclared))


def run(definition: ServiceDefinition) -> None:
    """`python -m <service>`: serve HTTP and consume events in this one process."""
    settings = Settings()
    app = create_app(definition, settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port or definition.default_port,
        log_config=None,  # keep our JSON logging
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
