"""One trace per job, across every service and every human pause between phases.

A job's trace starts where its first event is published (intake taking the request). Each
service remembers the job's trace context in its own `job_traces` collection the first time it
sees the job (a published or consumed event), and from then on:

- events it publishes about the job continue the job's trace, even when published by a
  background job (SLA monitor, scheduler) that has no trace of its own;
- an HTTP request whose path names the job (`/jobs/{job_id}/...`, `/work-orders/{job_id}`, any
  path segment that is a known job id) is served as part of the job's trace, so a person acting
  hours later still lands in the same trace.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.middleware.base import DefineMiddleware
from litestar.plugins import opentelemetry as litestar_otel
from litestar.plugins.opentelemetry.middleware import OpenTelemetryInstrumentationMiddleware
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import TracerProvider
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from compressor_kit.telemetry import current_trace_carrier, request_scope, route_view

JOB_TRACES = "job_traces"
KEEP_JOB_TRACES = timedelta(days=365)
"""A job's trace context is kept a year after its first event (MongoDB deletes it then): longer than
any job stays open. An event about a job older than that starts a new trace."""
JOB_TRACE_INDEXES = {
    JOB_TRACES: [
        IndexModel([("created_at", ASCENDING)], name="expire", expireAfterSeconds=int(KEEP_JOB_TRACES.total_seconds()))
    ]
}
MAX_PATH_SEGMENTS = 8
# Long enough for a busy database on a loaded host; a request on a job is worth keeping in its trace.
# When MongoDB is down the handler's own database call fails the request anyway.
LOOKUP_TIMEOUT_SECONDS = 3.0
UNTRACED_PREFIXES = ("/health", "/schema")
JOB_ID_ATTRIBUTE = "job.id"
"""The job a request or event is about, on its span: how an SRE finds a job's requests by attribute, now
that spans name routes by their template (`/jobs/{job_id}`) and never carry the path itself."""
_JOB_OF_REQUEST = "compressor.job_id"


def _trace_id(carrier: dict[str, str]) -> str | None:
    parts = carrier.get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 else None


def _current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


class JobTraces:
    """The trace context of each job this service has seen, in its `job_traces` collection.

    A job's stored context never changes once written (first writer wins), so the recent ones are
    also kept in memory: one per running service, saving a database round trip per event.
    """

    def __init__(self, db: AsyncDatabase[Any], size: int = 20_000) -> None:
        self.db = db
        self.size = size
        self._recent: OrderedDict[str, dict[str, str]] = OrderedDict()

    def known(self, job_id: str) -> dict[str, str] | None:
        carrier = self._recent.get(job_id)
        if carrier is not None:
            self._recent.move_to_end(job_id)
        return carrier

    def _keep(self, job_id: str, carrier: dict[str, str]) -> None:
        self._recent[job_id] = carrier
        if len(self._recent) > self.size:
            self._recent.popitem(last=False)

    async def remember(
        self, session: AsyncClientSession | None, job_id: str, carrier: dict[str, str] | None = None
    ) -> dict[str, str] | None:
        """Keep the first trace context seen for the job; return the job's trace context (None if unknown)."""
        known = self.known(job_id)
        if known is not None:
            return known
        carrier = current_trace_carrier() if carrier is None else carrier
        if not carrier.get("traceparent"):
            doc = await self.db[JOB_TRACES].find_one({"_id": job_id}, session=session)
        else:
            doc = await self.db[JOB_TRACES].find_one_and_update(
                {"_id": job_id},
                {"$setOnInsert": {"carrier": carrier, "created_at": datetime.now(UTC)}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=session,
            )
        if doc is None:
            return None
        # Remembered only once committed would be exact; a rolled-back insert is simply written again by
        # the retry with the same context, so remembering it now is safe.
        self._keep(job_id, doc["carrier"])
        return dict(doc["carrier"])

    async def carrier_for(self, session: AsyncClientSession | None, job_id: str) -> dict[str, str]:
        """The trace context an event about `job_id` should carry, remembering the job's trace on first sight.

        Inside the job's trace already (a consumer, or a request on the job): the current span, so the
        event's parent is what caused it. Outside it (a background job, a request not tied to the job):
        the job's remembered trace context.
        """
        current = current_trace_carrier()
        stored = await self.remember(session, job_id, current)
        if stored is None or _trace_id(stored) == _current_trace_id():
            return current
        return stored

    async def lookup(self, candidates: list[str]) -> tuple[str, dict[str, str]] | None:
        """The first known job among `candidates` (path segments of a request) and its trace context."""
        for candidate in candidates:
            known = self.known(candidate)
            if known is not None:
                return candidate, known
        doc = await self.db[JOB_TRACES].find_one({"_id": {"$in": candidates}})
        return (str(doc["_id"]), dict(doc["carrier"])) if doc else None


class JobTraceMiddleware(OpenTelemetryInstrumentationMiddleware):
    """Litestar's OpenTelemetry middleware, serving a request on a known job inside the job's trace.

    The request's own `traceparent` wins when it already belongs to the job's trace; otherwise the
    job's trace context replaces it before the server span starts. OpenTelemetry's middleware sees the
    request by its route template (`route_view`): no path parameter (a survey token) reaches a span.
    """

    def __init__(self, app: Any, config: Any) -> None:
        super().__init__(app, config)
        self.open_telemetry_middleware.app = self._serve_request

    async def _serve_request(self, view: Any, receive: Any, send: Any) -> None:
        scope = request_scope(view)
        job_id = scope.get(_JOB_OF_REQUEST)
        if job_id:
            trace.get_current_span().set_attribute(JOB_ID_ATTRIBUTE, job_id)  # the server span, now current
        await self.app(scope, receive, send)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope.get("type") == "http" and not scope.get("path", "").startswith(UNTRACED_PREFIXES):
            runtime = getattr(scope["app"].state, "runtime", None)
            if runtime is not None:
                await self._join_job_trace(scope, runtime.outbox.job_traces)
        await super().__call__(route_view(scope), receive, send)

    @staticmethod
    async def _join_job_trace(scope: Any, job_traces: JobTraces) -> None:
        segments = [s for s in scope.get("path", "").split("/") if s][:MAX_PATH_SEGMENTS]
        if not segments:
            return
        try:
            with suppress_instrumentation():  # the lookup precedes the request's span: keep it out of traces
                found = await asyncio.wait_for(job_traces.lookup(segments), LOOKUP_TIMEOUT_SECONDS)
        except Exception:
            return  # tracing must never fail a request; a database outage surfaces in the handler
        if found is None:
            return
        job_id, carrier = found
        traceparent = carrier.get("traceparent")
        if not traceparent:
            return
        scope[_JOB_OF_REQUEST] = job_id
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() not in (b"traceparent", b"tracestate")]
        incoming = dict(scope.get("headers", [])).get(b"traceparent", b"").decode("latin-1")
        if _trace_id({"traceparent": incoming}) == _trace_id({"traceparent": traceparent}):
            return
        headers.append((b"traceparent", traceparent.encode("latin-1")))
        scope["headers"] = headers


class OpenTelemetryPlugin(litestar_otel.OpenTelemetryPlugin):
    """Litestar's OpenTelemetry plugin serving requests through `JobTraceMiddleware`.

    The stock plugin ignores `middleware_class`; the class keeps the stock name because Litestar
    looks the plugin up by class name when it builds the middleware stack.
    """

    def __init__(self, tracer_provider: TracerProvider) -> None:
        super().__init__(
            litestar_otel.OpenTelemetryConfig(tracer_provider=tracer_provider, middleware_class=JobTraceMiddleware)
        )

    @property
    def middleware(self) -> DefineMiddleware:
        return self.config.middleware
