"""Fault reports in MongoDB; a decision on one is saved on the condition that it still awaits one."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING, DESCENDING, IndexModel

from compressor_kit import rate_limits
from compressor_kit.outbox import UnitOfWork
from compressor_kit.refusals import Refusal
from intake_service.documents import from_document, to_document
from intake_service.fault_reports.domain import FaultReport, FaultReportStatus
from intake_service.settings import IntakeRuntime

FAULT_REPORTS = "fault_reports"

INDEXES = {
    FAULT_REPORTS: [
        IndexModel([("status", ASCENDING), ("reported_at", ASCENDING)], name="by_status"),
        IndexModel([("equipment_id", ASCENDING), ("reported_at", DESCENDING)], name="by_equipment"),
    ]
}


def _report(doc: dict[str, object]) -> FaultReport:
    return from_document(FaultReport, doc, "fault_report_id")


async def insert_report(runtime: IntakeRuntime, report: FaultReport) -> None:
    await runtime.db[FAULT_REPORTS].insert_one(to_document(report, "fault_report_id"))


async def load_report(source: IntakeRuntime | UnitOfWork, fault_report_id: str) -> FaultReport | None:
    session = source.session if isinstance(source, UnitOfWork) else None
    doc = await source.db[FAULT_REPORTS].find_one({"_id": fault_report_id}, session=session)
    return _report(doc) if doc else None


async def save_decision(uow: UnitOfWork, decided: FaultReport) -> None:
    """Store the decision unless another was stored meanwhile (409: reception acts once)."""
    result = await uow.db[FAULT_REPORTS].replace_one(
        {"_id": decided.fault_report_id, "status": FaultReportStatus.AWAITING.value},
        to_document(decided, "fault_report_id"),
        session=uow.session,
    )
    if result.matched_count == 0:
        raise Refusal.conflict("the fault report was decided meanwhile", field="fault_report_id")


async def reports_page(
    runtime: IntakeRuntime, *, status: FaultReportStatus | None, limit: int, offset: int
) -> tuple[list[FaultReport], int]:
    """Reports oldest first (the longest waiting at the top)."""
    query = {"status": status.value} if status else {}
    collection = runtime.db[FAULT_REPORTS]
    found = await collection.find(query).sort([("reported_at", 1), ("_id", 1)]).skip(offset).limit(limit).to_list()
    return [_report(doc) for doc in found], await collection.count_documents(query)


async def count_report(
    runtime: IntakeRuntime, rate: rate_limits.RateLimit, key: str, now: datetime
) -> rate_limits.Allowance:
    """One more report against `rate` for `key` (counted in MongoDB: every replica counts alike)."""
    return await rate_limits.take(runtime.db, rate, key, now)
