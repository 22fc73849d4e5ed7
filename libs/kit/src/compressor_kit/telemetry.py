"""OpenTelemetry set-up and trace-context propagation through message headers.

Spans are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (the SDK reads the
standard OTEL_* variables itself); otherwise tracing still runs so that trace ids appear in
logs and cross service hops.

A request is traced and logged by its route template (`GET /surveys/{token}`), never by its raw path:
some paths carry a secret (a survey token, a QR label id) that must not reach Jaeger or the logs.
`route_view` is the request as tracing sees it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import Any

from litestar.utils import normalize_path
from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

UNMATCHED_ROUTE = "/{unmatched}"
"""The template recorded for a path that no route serves (a 404): its raw path may be a mistyped secret."""
REQUEST_SCOPE = "compressor.request_scope"
"""Where `route_view` keeps the request's own scope, for the app behind the tracing middleware."""

_provider: TracerProvider | None = None


def setup_tracing(service: str, *extra_processors: SpanProcessor) -> TracerProvider:
    """Create this process's tracer provider once; later calls add processors to it."""
    global _provider
    if _provider is None:
        resource = Resource.create(
            {"service.name": os.environ.get("OTEL_SERVICE_NAME", service), "service.namespace": "compressor"}
        )
        _provider = TracerProvider(resource=resource)
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(_provider)
        _instrument_pymongo()
    for processor in extra_processors:
        _provider.add_span_processor(processor)
    return _provider


def _instrument_pymongo() -> None:
    # Database calls become child spans of the request or message being handled.
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    instrumentor = PymongoInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def current_trace_carrier() -> dict[str, str]:
    """The W3C trace context of the current span, to store beside an outbox event."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def attach_carrier(carrier: Mapping[str, str]) -> object:
    """Make a stored trace context current, on a fresh context (so that a suppressed caller,
    such as the outbox relay's polling, does not suppress it); returns the detach token."""
    return context.attach(propagate.extract(dict(carrier), context=context.Context()))


def detach(token: object) -> None:
    context.detach(token)  # type: ignore[arg-type]


def route_template(scope: Mapping[str, Any]) -> str:
    """The template of the route serving this request (`/surveys/{token}`), or UNMATCHED_ROUTE.

    Litestar notes the template once it has routed the request; before that (the tracing middleware
    runs first) the app's router is asked the same question (it caches its answers, so the request's
    own routing costs nothing more)."""
    if template := scope.get("path_template"):
        return str(template)
    router = getattr(scope.get("app"), "asgi_router", None)
    if router is None:
        return UNMATCHED_ROUTE
    path = str(scope.get("path", ""))
    if root_path := scope.get("root_path", ""):
        path = path.split(root_path, maxsplit=1)[-1]
    try:
        *_, template = router.handle_routing(path=normalize_path(path), method=scope.get("method"))
    except Exception:  # no route (404) or no such method (405)
        return UNMATCHED_ROUTE
    return str(template) or UNMATCHED_ROUTE


def route_view(scope: MutableMapping[str, Any]) -> Any:
    """The request as tracing may record it: the route template as its path and no query string, so
    span names, `url.path`/`http.target`/`http.url` and metrics name the route, never its parameters.
    The request's own scope travels along under REQUEST_SCOPE for the app itself."""
    template = route_template(scope)
    return {
        **scope,
        "path": template,
        "raw_path": template.encode(),
        "query_string": b"",
        REQUEST_SCOPE: scope,
    }


def request_scope(view: Mapping[str, Any]) -> Any:
    """The request's own scope behind a `route_view` (the scope itself when it is none)."""
    return view.get(REQUEST_SCOPE, view)
