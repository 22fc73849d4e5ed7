"""Run the SLA monitor now (operations, and tests driving the injectable clock)."""

from __future__ import annotations

from litestar import post
from litestar.di import NamedDependency

from compressor_kit.auth import Role, requires
from compressor_kit.runtime import Runtime
from dispatch_service.sla.monitor import check_slas


@post(
    "/sla/checks",
    **requires(Role.DISPATCHER, Role.ADMIN),
    operation_id="runSlaCheck",
    tags=["sla"],
    status_code=200,
)
async def run_sla_check(runtime: NamedDependency[Runtime]) -> dict[str, int]:
    """One SLA monitor round now (it also runs every SLA_MONITOR_INTERVAL_SECONDS); returns how many
    job.sla_at_risk and job.sla_breached events it raised. Safe to call at any time, from any replica."""
    return await check_slas(runtime)


ROUTES = [run_sla_check]
