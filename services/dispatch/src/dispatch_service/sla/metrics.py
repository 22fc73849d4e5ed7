"""Dispatch's own gauges: open jobs whose service commitments are at risk or breached, per deadline."""

from __future__ import annotations

from compressor_contracts.events.dispatch import SlaDeadline
from dispatch_service.jobs import store
from dispatch_service.settings import DispatchRuntime


def sla_metrics(runtime: DispatchRuntime) -> None:
    jobs = runtime.metrics.gauge(
        "compressor_dispatch_sla_jobs",
        "open jobs whose deadline is at risk or breached and not met, now",
        ("deadline", "state"),
    )

    async def sample() -> None:
        now = runtime.clock.now()
        for deadline in SlaDeadline:
            for state, count in (await store.sla_counts(runtime, deadline.value, now)).items():
                jobs.labels(deadline.value, state).set(count)

    runtime.metrics.sample_before_scrape("dispatch_sla", sample)
