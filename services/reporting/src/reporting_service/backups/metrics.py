"""Reporting's own gauge: how old the newest completed backup is (+Inf before the first one, so an
alert on its age also fires when backups never ran)."""

from __future__ import annotations

import math

from reporting_service.backups import store
from reporting_service.settings import ReportingRuntime


def backup_metrics(runtime: ReportingRuntime) -> None:
    age = runtime.metrics.gauge(
        "compressor_reporting_last_backup_age_seconds", "seconds since the newest completed backup completed"
    )

    async def sample() -> None:
        completed_at = await store.last_completed_at(runtime)
        age.set(math.inf if completed_at is None else (runtime.clock.now() - completed_at).total_seconds())

    runtime.metrics.sample_before_scrape("reporting_backup", sample)
