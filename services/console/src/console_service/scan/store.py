"""The scan page's count of fault reports per reporter address, in the console's MongoDB (the kit's
`rate_limits`: one counter per address and hour, so every replica counts against the same limit)."""

from __future__ import annotations

from datetime import datetime

from compressor_kit import rate_limits
from console_service.settings import ConsoleRuntime, ConsoleSettings

HOUR = 3600
MINUTE = 60


def per_address(runtime: ConsoleRuntime) -> rate_limits.RateLimit:
    limit = runtime.settings.scan_fault_reports_per_address_per_hour
    return rate_limits.RateLimit("scan-fault-reports-per-address", limit, HOUR)


def pages_per_address(settings: ConsoleSettings) -> rate_limits.RateLimit:
    """Every request to the label pages, per address (the kit's guard counts them)."""
    return rate_limits.RateLimit("scan-pages-per-address", settings.scan_pages_per_address_per_minute, MINUTE)


async def count_report(runtime: ConsoleRuntime, address: str, now: datetime) -> rate_limits.Allowance:
    return await rate_limits.take(runtime.db, per_address(runtime), address, now)


async def uncount_report(runtime: ConsoleRuntime, address: str, now: datetime) -> None:
    """The report was not taken after all (intake refused it): it does not count."""
    await rate_limits.give_back(runtime.db, per_address(runtime), address, now)
