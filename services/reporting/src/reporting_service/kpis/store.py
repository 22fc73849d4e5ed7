"""The KPI aggregation: one pipeline over the latest published record versions, joined with the
job summaries (survey scores, later requests for the same equipment)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from reporting_service.records.store import RECORDS
from reporting_service.settings import ReportingRuntime
from reporting_service.timeline.store import JOBS

MS = 1000.0


def _is(condition: object) -> dict[str, Any]:
    return {"$cond": [condition, 1, 0]}


def _present(field: str) -> dict[str, Any]:
    return {"$not": [{"$in": [{"$type": field}, ["null", "missing"]]}]}


GROUP_SUMS = {
    "jobs": {"$sum": 1},
    "mttr_seconds": {"$avg": "$ttr_seconds"},
    "mtta_seconds": {"$avg": "$tta_seconds"},
    "first_time_fixes": {"$sum": _is("$first_time_fix")},
    "reworked": {"$sum": _is("$reworked")},
    "arrive_by_met": {"$sum": _is({"$eq": ["$arrive_by_met", True]})},
    "arrive_by_committed": {"$sum": _is(_present("$arrive_by_met"))},
    "resolve_by_met": {"$sum": _is({"$eq": ["$resolve_by_met", True]})},
    "resolve_by_committed": {"$sum": _is(_present("$resolve_by_met"))},
    "csat_average": {"$avg": "$csat"},
    "promoters": {"$sum": _is({"$gte": ["$nps", 9]})},
    "detractors": {"$sum": _is({"$and": [_present("$nps"), {"$lte": ["$nps", 6]}]})},
    "responses": {"$sum": _is(_present("$nps"))},
}


def pipeline(start: datetime, end: datetime, ftf_window: timedelta) -> list[dict[str, Any]]:
    window_ms = int(ftf_window.total_seconds() * MS)
    return [
        {"$match": {"status": "published", "content.dates.inspection_passed_at": {"$gte": start, "$lt": end}}},
        {"$sort": {"version": -1}},
        {"$group": {"_id": "$record_id", "record": {"$first": "$$ROOT"}}},
        {"$replaceWith": "$record.content"},
        {"$lookup": {"from": JOBS, "localField": "job_id", "foreignField": "_id", "as": "job"}},
        {
            "$lookup": {
                "from": JOBS,
                "let": {
                    "equipment": "$equipment.equipment_id",
                    "job": "$job_id",
                    "after": "$dates.inspection_passed_at",
                    "until": {"$add": ["$dates.inspection_passed_at", window_ms]},
                },
                "pipeline": [
                    {
                        "$match": {
                            "$expr": {
                                "$and": [
                                    {"$eq": ["$equipment_id", "$$equipment"]},
                                    {"$ne": ["$_id", "$$job"]},
                                    {"$gt": ["$requested_at", "$$after"]},
                                    {"$lte": ["$requested_at", "$$until"]},
                                ]
                            }
                        }
                    },
                    {"$limit": 1},
                    {"$project": {"_id": 1}},
                ],
                "as": "repeat_requests",
            }
        },
        {
            "$project": {
                "model_code": "$equipment.model_code",
                "engineer_id": "$engineer.engineer_id",
                "region": "$region",
                "failure_category": "$failure_category",
                "ttr_seconds": {"$divide": [{"$subtract": ["$dates.inspection_passed_at", "$dates.requested_at"]}, MS]},
                "tta_seconds": {
                    "$cond": [
                        {"$eq": [{"$type": "$dates.arrived_at"}, "date"]},
                        {"$divide": [{"$subtract": ["$dates.arrived_at", "$dates.requested_at"]}, MS]},
                        None,
                    ]
                },
                "first_time_fix": {
                    "$and": [{"$eq": ["$inspection_rounds", 1]}, {"$eq": [{"$size": "$repeat_requests"}, 0]}]
                },
                "reworked": {"$gt": ["$inspection_rounds", 1]},
                "arrive_by_met": "$arrive_by_met",
                "resolve_by_met": "$resolve_by_met",
                "csat": {"$first": "$job.csat"},
                "nps": {"$first": "$job.nps"},
            }
        },
        {
            "$facet": {
                "overall": [{"$group": {"_id": None, **GROUP_SUMS}}],
                "by_model": [{"$group": {"_id": "$model_code", **GROUP_SUMS}}, {"$sort": {"_id": 1}}],
                "by_engineer": [{"$group": {"_id": "$engineer_id", **GROUP_SUMS}}, {"$sort": {"_id": 1}}],
                "by_region": [{"$group": {"_id": "$region", **GROUP_SUMS}}, {"$sort": {"_id": 1}}],
                "causes": [
                    {
                        "$group": {
                            "_id": {"model_code": "$model_code", "failure_category": "$failure_category"},
                            "count": {"$sum": 1},
                        }
                    },
                    {
                        "$project": {
                            "_id": 0,
                            "model_code": "$_id.model_code",
                            "failure_category": "$_id.failure_category",
                            "count": 1,
                        }
                    },
                ],
            }
        },
    ]


async def aggregate(runtime: ReportingRuntime, start: datetime, end: datetime, ftf_window: timedelta) -> dict[str, Any]:
    """The per-group sums of the records whose inspection passed in [start, end): `overall` (one row
    or none), `by_model`, `by_engineer`, `by_region` (rows with the group in `_id`) and `causes`."""
    results = [doc async for doc in await runtime.db[RECORDS].aggregate(pipeline(start, end, ftf_window))]
    sums: dict[str, Any] = results[0]
    return sums
