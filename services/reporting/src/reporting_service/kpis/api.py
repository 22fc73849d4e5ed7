"""GET the KPIs of a date range (by the date the inspection passed)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from pydantic import BaseModel, ConfigDict, Field, create_model

from compressor_contracts import StaffRole
from compressor_kit.auth import requires
from reporting_service.kpis import domain
from reporting_service.kpis.store import aggregate
from reporting_service.settings import ReportingRuntime

TAGS = ["KPIs"]

_FIGURES: dict[str, Any] = {
    "jobs": 4,
    "mttr_hours": 9.0,
    "mean_time_to_arrive_hours": 4.75,
    "first_time_fix_rate": 0.5,
    "rework_rate": 0.25,
    "arrive_by_compliance": 0.5,
    "resolve_by_compliance": 0.5,
    "csat_average": 4.0,
    "nps": 33.3,
    "survey_responses": 3,
}


class KpiFigures(BaseModel):
    jobs: int = Field(description="Jobs whose inspection passed in the range.")
    mttr_hours: float | None = Field(description="Mean time from the request to the passed inspection.")
    mean_time_to_arrive_hours: float | None = Field(description="Mean time from the request to the arrival.")
    first_time_fix_rate: float | None = Field(
        description="Passed at the first inspection, and the unit not back within the first-time-fix window."
    )
    rework_rate: float | None
    arrive_by_compliance: float | None = Field(description="Of the jobs with an arrive-by commitment.")
    resolve_by_compliance: float | None = Field(description="Of the jobs with a resolve-by commitment.")
    csat_average: float | None
    nps: float | None = Field(description="Net promoter score, -100 to 100.")
    survey_responses: int


class ModelKpis(KpiFigures):
    model_code: str | None


class EngineerKpis(KpiFigures):
    engineer_id: str | None


class RegionKpis(KpiFigures):
    region: str | None


class CauseShare(BaseModel):
    failure_category: str
    count: int
    share: float
    cumulative_share: float


class ModelCauses(BaseModel):
    """The Pareto of one model's failure causes, most frequent first."""

    model_code: str | None
    jobs: int
    causes: list[CauseShare]


# `from` is a Python keyword: the range's fields are named by create_model.
if TYPE_CHECKING:

    class KpiRange(BaseModel): ...

else:
    KpiRange = create_model(
        "KpiRange",
        __base__=BaseModel,
        **{
            "from": (datetime, Field(description="Start (inclusive).")),
            "to": (datetime, Field(description="End (exclusive).")),
        },
    )


class Kpis(KpiRange):
    """KPIs overall and by model, engineer and region, and the Pareto of failure causes by model."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-03-01T00:00:00Z",
                    "to": "2026-04-01T00:00:00Z",
                    "first_time_fix_window_days": 30,
                    "overall": _FIGURES,
                    "by_model": [{"model_code": "AC-GA37VSD", **_FIGURES}],
                    "by_engineer": [{"engineer_id": "ENG-014", **_FIGURES}],
                    "by_region": [{"region": "central", **_FIGURES}],
                    "failure_causes_by_model": [
                        {
                            "model_code": "AC-GA37VSD",
                            "jobs": 3,
                            "causes": [
                                {
                                    "failure_category": "cooling",
                                    "count": 2,
                                    "share": 0.6667,
                                    "cumulative_share": 0.6667,
                                },
                                {"failure_category": "leaks", "count": 1, "share": 0.3333, "cumulative_share": 1.0},
                            ],
                        }
                    ],
                }
            ]
        }
    )

    first_time_fix_window_days: int
    overall: KpiFigures
    by_model: list[ModelKpis]
    by_engineer: list[EngineerKpis]
    by_region: list[RegionKpis]
    failure_causes_by_model: list[ModelCauses]


@get("/kpis", **requires(StaffRole.MANAGER, StaffRole.ADMIN), operation_id="getKpis", tags=TAGS)
async def get_kpis(
    runtime: NamedDependency[ReportingRuntime],
    from_: Annotated[datetime, QueryParameter(name="from", description="Start (inclusive, RFC 3339).")],
    to: Annotated[datetime, QueryParameter(description="End (exclusive, RFC 3339).")],
    ftf_window_days: Annotated[
        int | None,
        QueryParameter(ge=1, le=3650, description="First-time-fix window; default FIRST_TIME_FIX_WINDOW_DAYS."),
    ] = None,
) -> Kpis:
    """MTTR, mean time to arrive, first-time-fix and rework rates, SLA compliance, CSAT and NPS,
    overall and by model, engineer and region, and the Pareto of failure causes by model."""
    domain.check_range(from_, to)
    window_days = ftf_window_days or runtime.settings.first_time_fix_window_days
    sums = await aggregate(runtime, from_, to, timedelta(days=window_days))

    def grouped(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        return [{key: row["_id"], **domain.finish(row)} for row in rows]

    return Kpis.model_validate(
        {
            "from": from_,
            "to": to,
            "first_time_fix_window_days": window_days,
            "overall": domain.finish(sums["overall"][0] if sums["overall"] else domain.EMPTY_SUMS),
            "by_model": grouped(sums["by_model"], "model_code"),
            "by_engineer": grouped(sums["by_engineer"], "engineer_id"),
            "by_region": grouped(sums["by_region"], "region"),
            "failure_causes_by_model": domain.pareto(sums["causes"]),
        }
    )
