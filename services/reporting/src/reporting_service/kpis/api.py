"""GET the KPIs of a date range (by the date the inspection passed)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from compressor_kit.auth import Role, requires
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from reporting_service.kpis import domain
from reporting_service.kpis.store import aggregate
from reporting_service.settings import reporting_settings


@get("/kpis", **requires(Role.MANAGER, Role.ADMIN), operation_id="getKpis")
async def get_kpis(
    runtime: NamedDependency[Runtime],
    from_: Annotated[datetime, QueryParameter(name="from", description="Start (inclusive, RFC 3339).")],
    to: Annotated[datetime, QueryParameter(description="End (exclusive, RFC 3339).")],
    ftf_window_days: Annotated[
        int | None,
        QueryParameter(ge=1, le=3650, description="First-time-fix window; default FIRST_TIME_FIX_WINDOW_DAYS."),
    ] = None,
) -> dict[str, Any]:
    """MTTR, mean time to arrive, first-time-fix and rework rates, SLA compliance, CSAT and NPS,
    overall and by model, engineer and region, and the Pareto of failure causes by model."""
    if from_.tzinfo is None or to.tzinfo is None:
        raise Problem(422, "give from and to with a UTC offset", field="from" if from_.tzinfo is None else "to")
    if to <= from_:
        raise Problem(422, "to must be after from", field="to")
    window_days = ftf_window_days or reporting_settings(runtime.settings).first_time_fix_window_days
    sums = await aggregate(runtime.db, from_, to, timedelta(days=window_days))
    empty = {
        key: 0
        for key in (
            "jobs",
            "first_time_fixes",
            "reworked",
            "arrive_by_met",
            "arrive_by_committed",
            "resolve_by_met",
            "resolve_by_committed",
            "promoters",
            "detractors",
            "responses",
        )
    }
    empty.update(mttr_seconds=None, mtta_seconds=None, csat_average=None)

    def grouped(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        return [{key: row["_id"], **domain.finish(row)} for row in rows]

    return {
        "from": from_,
        "to": to,
        "first_time_fix_window_days": window_days,
        "overall": domain.finish(sums["overall"][0] if sums["overall"] else empty),
        "by_model": grouped(sums["by_model"], "model_code"),
        "by_engineer": grouped(sums["by_engineer"], "engineer_id"),
        "by_region": grouped(sums["by_region"], "region"),
        "failure_causes_by_model": domain.pareto(sums["causes"]),
    }
