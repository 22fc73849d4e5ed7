"""The HTTP face of a service: one Litestar app per service, built the same way for all.

`create_app` wires the runtime into Litestar: health routes, the admin's dead-letter routes
(`compressor_kit.deadletter_api`) and stuck outbox event routes (`compressor_kit.outbox_api`), the kit's
refusal and error handlers (problem+json), one trace per job, bounded parameters, the trace id on every
answer, and the rule that every route declares who may call it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from opentelemetry import trace

from compressor_kit.auth import public
from compressor_kit.clock import Clock
from compressor_kit.deadletter_api import ROUTES as DEAD_LETTER_ROUTES
from compressor_kit.job_trace import OpenTelemetryPlugin
from compressor_kit.logs import configure_logging
from compressor_kit.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from compressor_kit.metrics import http_metrics
from compressor_kit.openapi import document_closed_bodies, document_examples, document_problems
from compressor_kit.outbox import Publish
from compressor_kit.outbox_api import ROUTES as STUCK_EVENT_ROUTES
from compressor_kit.problems import EXCEPTION_HANDLERS, problem_response
from compressor_kit.runtime import Runtime, S, ServiceDefinition
from compressor_kit.settings import Settings

MAX_BODY_BYTES = 1024 * 1024


@get("/health/live", **public(), include_in_schema=False, sync_to_thread=False)
def live() -> dict[str, str]:
    return {"status": "live"}


@get("/health/ready", **public(), include_in_schema=False)
async def ready(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime[Settings]]) -> Any:
    checks = await runtime.readiness()
    if all(state == "ok" for state in checks.values()):
        return {"status": "ready", "service": runtime.name, "checks": checks}
    return problem_response(request, 503, "a dependency is unavailable", checks=checks)


# Open like the health routes, for Prometheus to scrape on the internal network: the reverse proxy must
# not route /metrics (nor /health/*) from outside. It names only route templates, event types, queues and
# counts, never an id, a token or a person.
@get("/metrics", **public(), include_in_schema=False)
async def metrics(runtime: NamedDependency[Runtime[Settings]]) -> Response[bytes]:
    return Response(await runtime.metrics.scrape(), media_type=METRICS_CONTENT_TYPE)


MAX_PATH_PARAMETER = 128
MAX_QUERY_VALUE = 512


def _too_long(name: str, limit: int) -> ValidationException:
    message = f"{name} is longer than {limit} characters"
    return ValidationException(detail=message, extra=[{"key": name, "message": message}])


async def _bounded_parameters(request: Request[Any, Any, Any]) -> None:
    """Ids in paths and values in query strings have sane lengths, on every route of every service
    (bodies are bounded by their models and the body size limit)."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and len(value) > MAX_PATH_PARAMETER:
            raise _too_long(name, MAX_PATH_PARAMETER)
    for name, value in request.query_params.multi_items():
        if len(value) > MAX_QUERY_VALUE:
            raise _too_long(name, MAX_QUERY_VALUE)


async def _trace_id_header(response: Response[Any]) -> Response[Any]:
    """Every response names its trace, so a caller can look the request (and its job) up in tracing."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        response.headers["X-Trace-Id"] = format(span_context.trace_id, "032x")
    return response


def create_app(
    definition: ServiceDefinition[S],
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    wrap_publish: Callable[[Publish], Publish] | None = None,
) -> Litestar:
    """The service's app; `settings` default to the environment, `clock` to the system clock.
    `wrap_publish` lets the fault tests' launcher stand between the relay and the broker."""
    service_settings = definition.settings_from(settings)
    configure_logging(definition.name, service_settings.log_level)
    runtime = Runtime(definition, service_settings, clock, wrap_publish=wrap_publish)
    app = Litestar(
        route_handlers=[live, ready, metrics, *DEAD_LETTER_ROUTES, *STUCK_EVENT_ROUTES, *definition.route_handlers],
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
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT",
                        description="An access token from the identity provider (OIDC_ISSUER) for the API "
                        "audience (OIDC_AUDIENCE), carrying the caller's roles.",
                    )
                }
            ),
        ),
        request_max_body_size=MAX_BODY_BYTES,
        logging_config=None,  # logs are configured once, as JSON, by configure_logging
    )
    app.state.runtime = runtime
    app.asgi_handler = http_metrics(app.asgi_handler, runtime.metrics)  # outermost: unrouted requests count too
    app.state.token_verifier = runtime.token_verifier
    _require_declared_roles(app)
    document_problems(app)
    document_closed_bodies(app)
    document_examples(app)
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
