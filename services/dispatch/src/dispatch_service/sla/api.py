"""Run the SLA monitor now (operations, and tests driving the injectable clock)."""

from __future__ import annotations

from litestar import post
from litestar.di import NamedDependency
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import StaffRole
from compressor_kit.auth import requires
from dispatch_service.settings import DispatchRuntime
from dispatch_service.sla.monitor import check_slas


class SlaCheck(BaseModel):
    """What one monitor round raised."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"at_risk": 2, "breached": 1}]})

    at_risk: int = Field(ge=0, description="job.sla_at_risk events raised.")
    breached: int = Field(ge=0, description="job.sla_breached events raised.")


@post(
    "/sla/checks",
    **requires(StaffRole.DISPATCHER, StaffRole.ADMIN),
    operation_id="runSlaCheck",
    tags=["SLA"],
    status_code=200,
)
async def run_sla_check(runtime: NamedDependency[DispatchRuntime]) -> SlaCheck:
    """One SLA monitor round now (it also runs every SLA_MONITOR_INTERVAL_SECONDS); returns how many
    job.sla_at_risk and job.sla_breached events it raised. Safe to call at any time, from any replica."""
    return SlaCheck(**await check_slas(runtime))


ROUTES = [run_sla_check]
