"""Commands on fault reports: take one from a machine's label (within the machine's rate limit),
and reception's decision on it, recorded with the request it raises in one transaction."""

from __future__ import annotations

from compressor_contracts import Priority
from compressor_kit import rate_limits
from compressor_kit.auth import Principal
from compressor_kit.outbox import UnitOfWork
from compressor_kit.refusals import Refusal
from intake_service.actors import staff_member
from intake_service.customer_file.domain import ContactDetails, UnitOnFile
from intake_service.fault_reports import domain
from intake_service.fault_reports import store as reports
from intake_service.fault_reports.domain import FaultReport
from intake_service.ids import new_id
from intake_service.requests.recording import prepare_job
from intake_service.settings import IntakeRuntime

HOUR = 3600


def per_machine(runtime: IntakeRuntime) -> rate_limits.RateLimit:
    return rate_limits.RateLimit("fault-reports-per-machine", runtime.settings.fault_reports_per_machine_per_hour, HOUR)


class TooMany(Exception):
    """The machine's limit of fault reports is reached: try again after `retry_after_seconds`."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("too many fault reports for this machine")
        self.retry_after_seconds = retry_after_seconds


async def report_fault(
    runtime: IntakeRuntime, unit: UnitOnFile, *, reporter_name: str, reporter_phone: str, description: str
) -> FaultReport:
    """Keep the report for reception; refused naming the field, or TooMany past the machine's limit."""
    now = runtime.clock.now()
    report = domain.new_fault_report(
        new_id("FR"),
        unit,
        reporter_name=reporter_name,
        reporter_phone=reporter_phone,
        description=description,
        now=now,
    )
    allowance = await reports.count_report(runtime, per_machine(runtime), unit.equipment_id, now)
    if not allowance.allowed:
        raise TooMany(allowance.retry_after_seconds)
    await reports.insert_report(runtime, report)
    return report


async def awaiting_or_decided(runtime: IntakeRuntime, fault_report_id: str) -> FaultReport:
    report = await reports.load_report(runtime, fault_report_id)
    if report is None:
        raise Refusal.not_found("unknown fault report", field="fault_report_id")
    return report


async def confirm(
    runtime: IntakeRuntime,
    principal: Principal,
    fault_report_id: str,
    *,
    contact: ContactDetails | None,
    priority: Priority | None,
) -> FaultReport:
    """Record the report's request (job.requested, channel portal) and the confirmation together; a
    report decided already is refused (409) and nothing is published."""
    report = await awaiting_or_decided(runtime, fault_report_id)
    by, now = staff_member(principal), runtime.clock.now()
    report.confirmed("-", by, now)  # refused early when it was decided: no job is prepared for nothing
    prepared = await prepare_job(runtime, domain.as_request(report, contact, priority), by)
    confirmed = report.confirmed(prepared.job.job_id, by, now)

    async def record(uow: UnitOfWork) -> None:
        await reports.save_decision(uow, confirmed)
        await prepared.record(uow)

    await runtime.outbox.transact(record)
    return confirmed


async def dismiss(runtime: IntakeRuntime, principal: Principal, fault_report_id: str, *, reason: str) -> FaultReport:
    report = await awaiting_or_decided(runtime, fault_report_id)
    dismissed = report.dismissed(reason, staff_member(principal), runtime.clock.now())

    async def record(uow: UnitOfWork) -> None:
        await reports.save_decision(uow, dismissed)

    await runtime.outbox.transact(record)
    return dismissed
