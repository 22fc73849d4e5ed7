"""The one composition root every service uses.

A service describes itself with a `ServiceDefinition` (its routes, its consumers, its indexes
and buckets); `create_app` builds the Litestar app whose lifespan runs everything in one
process: HTTP, the FastStream subscribers, the outbox relay and any background jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from litestar import Litestar, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler
from opentelemetry import trace

from compressor_contracts import service_topology
from compressor_kit.auth import TokenAuthority, public
from compressor_kit.clock import Clock, SystemClock
from compressor_kit.consumer import INBOX_INDEXES, Consumer, JobTurns, subscribe
from compressor_kit.job_trace import OpenTelemetryPlugin
from compressor_kit.logs import configure_logging
from compressor_kit.messaging import build_broker, declare_topology, outbox_publisher, register_publishers
from compressor_kit.mongo import IndexSpec, create_client, ensure_indexes, ping
from compressor_kit.objectstore import ObjectStore
from compressor_kit.outbox import OUTBOX_INDEXES, Outbox, OutboxRelay
from compressor_kit.problems import (
    EXCEPTION_HANDLERS,
    Problem,
    document_closed_bodies,
    document_problems,
    problem_response,
)
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


FAULT_SIGKILL_BEFORE_PUBLISHING = "FAULT_SIGKILL_BEFORE_PUBLISHING"


def _fault_injection(publish: Callable[[Any], Awaitable[None]], settings: Settings):
    """Test-only crash point for the fault tests: with `FAULT_SIGKILL_BEFORE_PUBLISHING=<routing key>`
    (honoured only when ENVIRONMENT=test), the process SIGKILLs itself when its relay is about to
    publish that event: the event's transaction has committed and nothing of it has been published."""
    routing_key = os.environ.get(FAULT_SIGKILL_BEFORE_PUBLISHING, "")
    if not routing_key or settings.environment != "test":
        return publish

    async def publish_or_die(event: Any) -> None:
        if event.routing_key == routing_key:
            log.warning("fault injection: SIGKILL before publishing %s %s", event.routing_key, event.id)
            logging.shutdown()
            os.kill(os.getpid(), signal.SIGKILL)
        await publish(event)

    return publish_or_die


class Runtime:
    """Everything one running service holds. Building it connects to nothing; `start` does."""

    def __init__(self, definition: ServiceDefinition, settings: Settings, clock: Clock | None = None) -> None:
        self.definition = definition
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
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
        self.job_turns = JobTurns()
        for consumer in definition.consumers(self):
            subscribe(self.broker, self.outbox, self.job_turns, self.topology, consumer)
        self.relay = OutboxRelay(
            self.outbox,
            _fault_injection(outbox_publisher(self.publishers), settings),
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


def periodic(interval: Callable[[Settings], float], work: Callable[[Runtime], Awaitable[Any]]):
    """A background job that runs `work(runtime)` every `interval(settings)` seconds until the service
    stops. A failed round is logged and the next one runs as usual. Work that several replicas may
    run at once must be safe to run concurrently (unique keys, conditional updates)."""

    async def job(runtime: Runtime) -> None:
        while True:
            try:
                await work(runtime)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: periodic %s failed; retrying next round", runtime.name, work.__name__)
            await asyncio.sleep(interval(runtime.settings))

    job.__name__ = getattr(work, "__name__", "periodic")
    return job


@get("/health/live", **public(), include_in_schema=False, sync_to_thread=False)
def live() -> dict[str, str]:
    return {"status": "live"}


@get("/health/ready", **public(), include_in_schema=False)
async def ready(request: Request, runtime: NamedDependency[Runtime]) -> Any:
    checks = await runtime.readiness()
    if all(state == "ok" for state in checks.values()):
        return {"status": "ready", "service": runtime.name, "checks": checks}
    return problem_response(request, 503, "a dependency is unavailable", checks=checks)


MAX_PATH_PARAMETER = 128
MAX_QUERY_VALUE = 512


async def _bounded_parameters(request: Request) -> None:
    """Ids in paths and values in query strings have sane lengths, on every route of every service
    (bodies are bounded by their models and the body size limit)."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and len(value) > MAX_PATH_PARAMETER:
            raise Problem(400, f"{name} is longer than {MAX_PATH_PARAMETER} characters", field=name)
    for name, value in request.query_params.multi_items():
        if len(value) > MAX_QUERY_VALUE:
            raise Problem(400, f"{name} is longer than {MAX_QUERY_VALUE} characters", field=name)


async def _trace_id_header(response: Response) -> Response:
    """Every response names its trace, so a caller can look the request (and its job) up in tracing."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        response.headers["X-Trace-Id"] = format(span_context.trace_id, "032x")
    return response


def create_app(
    definition: ServiceDefinition, settings: Settings | None = None, *, clock: Clock | None = None
) -> Litestar:
    settings = settings or Settings()
    configure_logging(definition.name, settings.log_level)
    runtime = Runtime(definition, settings, clock)
    app = Litestar(
        route_handlers=[live, ready, *definition.route_handlers],
        dependencies={"runtime": Provide(lambda: runtime, sync_to_thread=False)},
        on_startup=[runtime.start],
        on_shutdown=[runtime.stop],
        exception_handlers=EXCEPTION_HANDLERS,
        plugins=[OpenTelemetryPlugin(runtime.tracer_provider)],
        before_request=_bounded_parameters,
        after_request=_trace_id_header,
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
    document_problems(app)
    document_closed_bodies(app)
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
    configure_logging(definition.name, settings.log_level)
    try:
        settings.check_production()
    except RuntimeError as exc:
        # Said once, plainly, before anything is served or connected; a non-zero exit for the supervisor.
        log.critical("%s: %s", definition.name, exc)
        raise SystemExit(2) from None
    app = create_app(definition, settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port or definition.default_port,
        log_config=None,  # keep our JSON logging
        lifespan="on",
        timeout_graceful_shutdown=10,
        # Longer than clients keep idle connections (httpx: 5 s), so the server never closes one
        # at the moment a client reuses it (which the client sees as a failed request).
        timeout_keep_alive=75,
    )
