"""Prometheus metrics of one service, served at GET /metrics (http.py).

Each runtime holds its own `ServiceMetrics` (its own CollectorRegistry, not the process's global one),
so several services in one process (the tests) count apart. Labels are low-cardinality by rule: route
templates, event types, queues, error types and alert names; never an id, a token or a raw path.

The kit counts as things happen: HTTP requests (`http_metrics`), events published (messaging.py),
consumed, absorbed as duplicates (consumer.py), retried, dead-lettered and held through outages
(delivery.py), and alerts (alerts.py). Gauges that describe stored state (the outbox backlog, a
service's SLA or notification counts, the age of the last backup) are sampled from MongoDB at scrape
time by `sample_before_scrape` hooks, each bounded by SAMPLE_TIMEOUT_SECONDS: a slow database delays a
scrape by that much at most, and the failure is counted instead of failing the scrape.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pymongo.asynchronous.database import AsyncDatabase

from compressor_kit.outbox import oldest_pending_age_seconds, pending_count, stuck_count
from compressor_kit.telemetry import route_template

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
SAMPLE_TIMEOUT_SECONDS = 2.0
HANDLER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Sampler = Callable[[], Awaitable[None]]

# The metrics of the service whose code is running: set by the runtime when it starts (its relay,
# consumers and background jobs inherit it) and by `http_metrics` around each request. Only alerts,
# raised from code that holds no runtime, need it; everything else is handed its ServiceMetrics.
_current: ContextVar[ServiceMetrics | None] = ContextVar("compressor_metrics", default=None)


class ServiceMetrics:
    """The metrics one running service exposes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "compressor_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.http_duration = Histogram(
            "compressor_http_request_duration_seconds", "HTTP request duration", ["method", "route"], registry=r
        )
        self.events_published = Counter(
            "compressor_events_published", "events the outbox relay published (confirmed)", ["type"], registry=r
        )
        self.events_consumed = Counter(
            "compressor_events_consumed", "events handled (applied once)", ["queue", "type"], registry=r
        )
        self.handler_duration = Histogram(
            "compressor_event_handler_duration_seconds",
            "time to handle a consumed event (attempts that succeeded)",
            ["queue", "type"],
            buckets=HANDLER_BUCKETS,
            registry=r,
        )
        self.inbox_duplicates = Counter(
            "compressor_inbox_duplicates",
            "redelivered or republished events the inbox absorbed",
            ["queue", "type"],
            registry=r,
        )
        self.consumer_retries = Counter(
            "compressor_consumer_retries",
            "failed deliveries requeued for another attempt",
            ["queue", "reason"],
            registry=r,
        )
        self.dead_letters = Counter(
            "compressor_dead_letters", "events moved to the dead-letter queue", ["queue", "reason"], registry=r
        )
        self.outage_pauses = Counter(
            "compressor_consumer_outage_pauses",
            "deliveries held because MongoDB was unavailable (no attempt spent)",
            ["queue"],
            registry=r,
        )
        self.held_deliveries = Gauge(
            "compressor_consumer_held_deliveries", "deliveries held now through an outage", ["queue"], registry=r
        )
        self.alerts = Counter("compressor_alerts", "alerts raised (compressor_kit.alerts)", ["alert"], registry=r)
        self.outbox_pending = Gauge("compressor_outbox_pending_events", "outbox events not yet published", registry=r)
        self.outbox_oldest_pending_age = Gauge(
            "compressor_outbox_oldest_pending_age_seconds",
            "age of the oldest pending outbox event (0 when none)",
            registry=r,
        )
        self.outbox_stuck = Gauge(
            "compressor_outbox_stuck_events", "outbox events parked after failing every attempt", registry=r
        )
        self.sample_failures = Counter(
            "compressor_metrics_sample_failures",
            "scrape-time samples that failed or timed out (their gauges keep the last value)",
            ["sampler"],
            registry=r,
        )
        self._samplers: list[tuple[str, Sampler]] = []
        self._own_counters: dict[str, Counter] = {}

    def gauge(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
        """A gauge of this service's own (a service's `metrics` hook), in this registry."""
        return Gauge(name, documentation, labels, registry=self.registry)

    def counter(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Counter:
        """A counter of this service's own, made on first use and the same one after."""
        if name not in self._own_counters:
            self._own_counters[name] = Counter(name, documentation, labels, registry=self.registry)
        return self._own_counters[name]

    def sample_before_scrape(self, name: str, sampler: Sampler) -> None:
        """Run `sampler` (which sets gauges) before each scrape, bounded by SAMPLE_TIMEOUT_SECONDS."""
        self._samplers.append((name, sampler))

    def sample_outbox(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        async def sample() -> None:
            pending, stuck, oldest = await asyncio.gather(
                pending_count(db), stuck_count(db), oldest_pending_age_seconds(db)
            )
            self.outbox_pending.set(pending)
            self.outbox_stuck.set(stuck)
            self.outbox_oldest_pending_age.set(oldest)

        self.sample_before_scrape("outbox", sample)

    async def scrape(self) -> bytes:
        await asyncio.gather(*(self._sample(name, sampler) for name, sampler in self._samplers))
        return generate_latest(self.registry)

    async def _sample(self, name: str, sampler: Sampler) -> None:
        try:
            await asyncio.wait_for(sampler(), SAMPLE_TIMEOUT_SECONDS)
        except Exception as error:
            log.warning("metrics sample %s failed: %s: %.200s", name, type(error).__name__, error)
            self.sample_failures.labels(name).inc()

    def make_current(self) -> None:
        """Count alerts raised in this context (and the tasks it starts from now on) for this service."""
        _current.set(self)


def count_alert(name: str) -> None:
    """Count an alert for the service whose code is running (nothing outside a service)."""
    metrics = _current.get()
    if metrics is not None:
        metrics.alerts.labels(name).inc()


def http_metrics(app: Any, metrics: ServiceMetrics) -> Any:
    """ASGI middleware counting every HTTP answer by method, route template and status, with its
    duration. It wraps the whole app, so unrouted requests (404, under UNMATCHED_ROUTE) count too."""

    async def counted(scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return
        method = str(scope.get("method", ""))
        route = route_template(scope)
        status = 500  # an answer that never started
        started = time.perf_counter()

        async def send_noting_status(message: Any) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message["status"])
            await send(message)

        token = _current.set(metrics)
        try:
            await app(scope, receive, send_noting_status)
        finally:
            _current.reset(token)
            metrics.http_requests.labels(method, route, str(status)).inc()
            metrics.http_duration.labels(method, route).observe(time.perf_counter() - started)

    return counted
