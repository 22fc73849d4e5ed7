"""Where the job board lives: one row per job (`jobs`); open pages follow it through console_service.live."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from compressor_kit.job_trace import JOB_TRACES
from compressor_kit.outbox import UnitOfWork
from console_service.board.domain import BoardFilter
from console_service.settings import ConsoleRuntime

JOBS = "jobs"
BOARD_LIMIT = 500

INDEXES = {
    JOBS: [
        IndexModel([("status", ASCENDING), ("updated_at", DESCENDING)], name="by_status"),
        IndexModel([("engineer_id", ASCENDING), ("updated_at", DESCENDING)], name="by_engineer"),
    ]
}


async def row_in(uow: UnitOfWork, job_id: str) -> dict[str, Any] | None:
    return await uow.db[JOBS].find_one({"_id": job_id}, session=uow.session)


async def save_row(uow: UnitOfWork, row: dict[str, Any]) -> None:
    await uow.db[JOBS].replace_one({"_id": row["_id"]}, row, upsert=True, session=uow.session)


async def trace_id_of(runtime: ConsoleRuntime, job_id: str) -> str | None:
    """The job's trace id, from the trace context the kit remembered when its first event arrived."""
    doc = await runtime.db[JOB_TRACES].find_one({"_id": job_id}, {"carrier.traceparent": 1})
    parts = str(((doc or {}).get("carrier") or {}).get("traceparent", "")).split("-")
    return parts[1] if len(parts) == 4 else None


async def row_of(runtime: ConsoleRuntime, job_id: str) -> dict[str, Any] | None:
    return await runtime.db[JOBS].find_one({"_id": job_id})


async def jobs_of_engineer(runtime: ConsoleRuntime, job_ids: list[str], engineer_id: str) -> set[str]:
    """Of `job_ids`, those the board shows as done by `engineer_id`."""
    rows = runtime.db[JOBS].find({"_id": {"$in": job_ids}, "engineer_id": engineer_id}, {"_id": 1})
    return {str(row["_id"]) async for row in rows}


async def board(runtime: ConsoleRuntime, selection: BoardFilter) -> list[dict[str, Any]]:
    """The most recently changed rows (at most BOARD_LIMIT) that match the filter."""
    query = {
        name: value
        for name, value in (
            ("priority", selection.priority),
            ("region", selection.region),
            ("engineer_id", selection.engineer_id),
        )
        if value is not None
    }
    cursor = runtime.db[JOBS].find(query).sort([("updated_at", DESCENDING)]).limit(BOARD_LIMIT)
    return [row async for row in cursor]


async def engineers(runtime: ConsoleRuntime) -> list[tuple[str, str]]:
    """(id, name) of every engineer on the board, for the filter."""
    pipeline: list[dict[str, Any]] = [
        {"$match": {"engineer_id": {"$ne": None}}},
        {"$group": {"_id": "$engineer_id", "name": {"$last": "$engineer_name"}}},
        {"$sort": {"name": 1}},
    ]
    return [(doc["_id"], doc["name"]) async for doc in await runtime.db[JOBS].aggregate(pipeline)]


async def regions(runtime: ConsoleRuntime) -> list[str]:
    return sorted(r for r in await runtime.db[JOBS].distinct("region") if isinstance(r, str))
