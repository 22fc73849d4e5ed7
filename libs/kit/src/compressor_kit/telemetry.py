"""OpenTelemetry set-up and trace-context propagation through message headers.

Spans are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (the SDK reads the
standard OTEL_* variables itself); otherwise tracing still runs so that trace ids appear in
logs and cross service hops.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

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
