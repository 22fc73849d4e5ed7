"""Reporting's own settings, on top of the kit's (same environment, extra variables).

Declared in the service definition (`settings_type`): the runtime holds them typed, as
`ReportingRuntime.settings`.
"""

from __future__ import annotations

from pydantic import Field

from compressor_kit.runtime import Runtime
from compressor_kit.settings import Settings


class ReportingSettings(Settings):
    report_publish_interval_seconds: float = Field(
        2.0, gt=0, description="How often pending reports are rendered and published (and retried)."
    )
    report_max_attempts: int = Field(
        10, ge=1, le=100, description="Failures of one record version (not outages) before it is parked and alerted."
    )
    report_retry_first_delay_seconds: float = Field(
        2.0, gt=0, description="Wait after a record version's first failure (doubling after each)."
    )
    report_retry_max_delay_seconds: float = Field(
        300.0, gt=0, description="Longest wait between a record version's attempts."
    )
    report_link_expiry_seconds: int = Field(900, ge=60, le=7 * 24 * 3600, description="Presigned report link expiry.")
    first_time_fix_window_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="A new request for the same equipment within this window is not a first-time fix.",
    )
    backup_interval_seconds: float = Field(24 * 3600, gt=0, description="Scheduled backup interval.")
    backup_stale_after_seconds: float = Field(
        6 * 3600, gt=0, description="A backup still running after this long was interrupted and is failed."
    )
    backup_keep_daily: int = Field(7, ge=1, le=3650, description="Daily backups kept by retention.")
    backup_keep_monthly: int = Field(12, ge=0, le=1200, description="Monthly backups kept by retention.")
    backup_databases: str = Field(
        "", description="Comma-separated databases to back up; empty means every service's database."
    )
    archive_after_days: int = Field(365, ge=1, le=36500, description="Records older than this move to the archive.")
    archive_interval_seconds: float = Field(24 * 3600, gt=0, description="How often archiving runs.")


ReportingRuntime = Runtime[ReportingSettings]
"""The running reporting service: its handlers and jobs read `runtime.settings.<field>` typed."""
