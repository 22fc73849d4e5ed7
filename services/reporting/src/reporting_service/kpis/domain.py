"""Pure KPI arithmetic on the per-group sums the aggregation returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from compressor_kit.refusals import Refusal

EMPTY_SUMS: dict[str, Any] = {
    **dict.fromkeys(
        (
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
        ),
        0,
    ),
    "mttr_seconds": None,
    "mtta_seconds": None,
    "csat_average": None,
}
"""The sums of a range with no job in it."""


def check_range(start: datetime, end: datetime) -> None:
    """KPIs are asked of [start, end), both with a UTC offset."""
    if start.tzinfo is None or end.tzinfo is None:
        raise Refusal.invalid("give from and to with a UTC offset", field="from" if start.tzinfo is None else "to")
    if end <= start:
        raise Refusal.invalid("to must be after from", field="to")


def ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 3)


def net_promoter_score(promoters: int, detractors: int, responses: int) -> float | None:
    """NPS: % promoters (9-10) minus % detractors (0-6), from -100 to 100."""
    return round(100 * (promoters - detractors) / responses, 1) if responses else None


def finish(group: dict[str, Any]) -> dict[str, Any]:
    """KPI figures of one group from its sums."""
    return {
        "jobs": group["jobs"],
        "mttr_hours": hours(group["mttr_seconds"]),
        "mean_time_to_arrive_hours": hours(group["mtta_seconds"]),
        "first_time_fix_rate": ratio(group["first_time_fixes"], group["jobs"]),
        "rework_rate": ratio(group["reworked"], group["jobs"]),
        "arrive_by_compliance": ratio(group["arrive_by_met"], group["arrive_by_committed"]),
        "resolve_by_compliance": ratio(group["resolve_by_met"], group["resolve_by_committed"]),
        "csat_average": None if group["csat_average"] is None else round(group["csat_average"], 2),
        "nps": net_promoter_score(group["promoters"], group["detractors"], group["responses"]),
        "survey_responses": group["responses"],
    }


def pareto(counts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failure causes per model, most frequent first, with share and cumulative share."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for row in counts:
        by_model.setdefault(row["model_code"], []).append(row)
    result = []
    for model, rows in sorted(by_model.items()):
        rows.sort(key=lambda r: (-r["count"], r["failure_category"]))
        total = sum(r["count"] for r in rows)
        cumulative = 0
        causes = []
        for row in rows:
            cumulative += row["count"]
            causes.append(
                {
                    "failure_category": row["failure_category"],
                    "count": row["count"],
                    "share": round(row["count"] / total, 4),
                    "cumulative_share": round(cumulative / total, 4),
                }
            )
        result.append({"model_code": model, "jobs": total, "causes": causes})
    return result
