"""The reports bucket keeps every object version, and each record names the exact version it
checksummed: even a late, overlapping render of the same key cannot change what a record points at."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from minio.versioningconfig import VersioningConfig

from reporting_service.records.store import REPORTS_BUCKET
from reporting_service.settings import ReportingRuntime

log = logging.getLogger(__name__)

VERSIONING_ENABLED = "Enabled"  # minio.versioningconfig.ENABLED


async def enable_report_versioning(runtime: ReportingRuntime) -> None:
    """Start-up job: switch versioning on (retried until the store answers)."""
    bucket = runtime.objects.bucket(REPORTS_BUCKET)
    delay = 1.0
    while True:
        try:
            await asyncio.to_thread(
                runtime.objects.client.set_bucket_versioning, bucket, VersioningConfig(VERSIONING_ENABLED)
            )
            return
        except Exception as exc:
            log.warning("could not enable versioning on %s, retrying: %r", bucket, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)


async def recreate_reports_bucket(runtime: ReportingRuntime) -> None:
    """The reports bucket vanished (a store rebuilt empty): create it again, versioned."""
    bucket = runtime.objects.bucket(REPORTS_BUCKET)
    log.warning("bucket %s is missing: creating it again", bucket)
    await runtime.objects.ensure_buckets()
    await asyncio.to_thread(runtime.objects.client.set_bucket_versioning, bucket, VersioningConfig(VERSIONING_ENABLED))


async def presigned_report_link(runtime: ReportingRuntime, report: dict[str, Any], expiry: timedelta) -> str:
    return await runtime.objects.presigned_get(
        REPORTS_BUCKET, report["object_key"], expiry, version_id=report.get("object_version") or None
    )
