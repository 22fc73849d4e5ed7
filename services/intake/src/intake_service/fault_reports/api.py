"""HTTP API of fault reports: anyone at a machine reports a fault from its label (open, rate-limited
per machine); reception lists the reports awaiting confirmation, and confirms one (recording the
request: job.requested, channel portal) or dismisses it with a reason."""

from __future__ import annotations

import asyncio
from datetime import datetime

from litestar import get, post
from litestar.di import NamedDependency
from litestar.exceptions import TooManyRequestsException
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from compressor_contracts import Priority, StaffMember
from compressor_kit.auth import principal_of, public, requires
from compressor_kit.pagination import Limit, Offset, Page
from intake_service.actors import FRONT_DESK, CallerRequest
from intake_service.customer_file import store as file_store
from intake_service.customer_file.api import ContactIn
from intake_service.fault_reports import commands
from intake_service.fault_reports import store as reports
from intake_service.fault_reports.domain import FaultReport, FaultReportStatus
from intake_service.labels.api import labelled_unit
from intake_service.settings import IntakeRuntime

TAGS = ["Fault reports"]

REPORT_EXAMPLE: JsonDict = {
    "reporter_name": "Hafiz bin Osman",
    "reporter_phone": "012-345 6789",
    "description": "Loud knocking from the compressor since this morning; the pressure drops.",
}


class FaultReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [REPORT_EXAMPLE]})

    reporter_name: str = Field(max_length=400, description="Who reports it.")
    reporter_phone: str = Field(max_length=40, description="A Malaysian number: '012-345 6789' or '+60 12-345 6789'.")
    description: str = Field(max_length=4000, description="What is wrong with the machine.")


class FaultReportReceipt(BaseModel):
    """What the reporter learns: the report is kept and awaits reception (nothing of the customer)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fault_report_id": "FR-4C1D2E3F4A5B",
                    "status": "awaiting_confirmation",
                    "reported_at": "2026-03-02T08:00:00Z",
                }
            ]
        }
    )

    fault_report_id: str
    status: FaultReportStatus
    reported_at: datetime


class MachineInReport(BaseModel):
    brand: str
    model: str
    serial_number: str


class FaultReportView(BaseModel):
    """A fault report as reception sees it: the reporter, the fault, the machine and its customer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fault_report_id": "FR-4C1D2E3F4A5B",
                    "status": "awaiting_confirmation",
                    "reporter_name": "Hafiz bin Osman",
                    "reporter_phone": "+60123456789",
                    "description": REPORT_EXAMPLE["description"],
                    "reported_at": "2026-03-02T08:00:00Z",
                    "equipment_id": "EQ-5D0E8B7A1C92",
                    "machine": {"brand": "Atlas Copco", "model": "GA 37 VSD+", "serial_number": "API123456"},
                    "customer_id": "CUST-1A2B3C4D5E6F",
                    "customer_name": "Seri Murni Foods Sdn Bhd",
                    "site_id": "SITE-7F3A9C21B04D",
                    "site_name": "Shah Alam plant 2",
                    "job_id": None,
                    "dismissal_reason": None,
                    "decided_by": None,
                    "decided_at": None,
                }
            ]
        }
    )

    fault_report_id: str
    status: FaultReportStatus
    reporter_name: str
    reporter_phone: str
    description: str
    reported_at: datetime
    equipment_id: str
    machine: MachineInReport | None
    customer_id: str
    customer_name: str | None
    site_id: str
    site_name: str | None
    job_id: str | None
    dismissal_reason: str | None
    decided_by: StaffMember | None
    decided_at: datetime | None


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{}]})

    contact: ContactIn | None = Field(default=None, description="Defaults to the customer's main contact.")
    priority: Priority | None = Field(default=None, description="Defaults to normal.")


class DismissIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"reason": "Already in hand: job JOB-2026-000041 is open for this unit."}]},
    )

    reason: str = Field(max_length=4000, description="Why it is dismissed.")


async def _view(runtime: IntakeRuntime, report: FaultReport) -> FaultReportView:
    customer, site, unit = await asyncio.gather(
        file_store.load_customer(runtime, report.customer_id),
        file_store.load_site(runtime, report.site_id),
        file_store.load_unit(runtime, report.equipment_id),
    )
    return FaultReportView(
        **report.model_dump(exclude={"label_id"}),
        machine=MachineInReport(brand=unit.brand, model=unit.model, serial_number=unit.serial_number) if unit else None,
        customer_name=customer.name if customer else None,
        site_name=site.name if site else None,
    )


@post(
    "/labels/{label_id:str}/fault-reports",
    **public(),
    operation_id="reportFaultAtMachine",
    tags=TAGS,
)
async def report_fault(
    runtime: NamedDependency[IntakeRuntime], label_id: FromPath[str], data: JSONBody[FaultReportIn]
) -> FaultReportReceipt:
    """Open to anyone at the machine (no sign-in): a fault with the reporter's name and Malaysian
    phone, kept for reception to confirm; no request is recorded until then. 201; 422 naming the
    field; 429 with Retry-After past the machine's limit (FAULT_REPORTS_PER_MACHINE_PER_HOUR)."""
    unit = await labelled_unit(runtime, label_id)
    try:
        report = await commands.report_fault(
            runtime,
            unit,
            reporter_name=data.reporter_name,
            reporter_phone=data.reporter_phone,
            description=data.description,
        )
    except commands.TooMany as too_many:
        raise TooManyRequestsException(
            detail="this machine has had its fault reports for this hour; try again later or call us",
            headers={"Retry-After": str(too_many.retry_after_seconds)},
            extra={"retry_after_seconds": too_many.retry_after_seconds},
        ) from None
    return FaultReportReceipt(
        fault_report_id=report.fault_report_id, status=report.status, reported_at=report.reported_at
    )


@get("/fault-reports", **requires(*FRONT_DESK), operation_id="listFaultReports", tags=TAGS)
async def list_fault_reports(
    runtime: NamedDependency[IntakeRuntime],
    status: FromQuery[FaultReportStatus | None] = FaultReportStatus.AWAITING,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[FaultReportView]:
    """Fault reports, oldest first; by default those awaiting confirmation."""
    found, total = await reports.reports_page(runtime, status=status, limit=limit, offset=offset)
    items = [await _view(runtime, report) for report in found]
    return Page(items=items, total=total, limit=limit, offset=offset)


@get("/fault-reports/{fault_report_id:str}", **requires(*FRONT_DESK), operation_id="getFaultReport", tags=TAGS)
async def get_fault_report(runtime: NamedDependency[IntakeRuntime], fault_report_id: FromPath[str]) -> FaultReportView:
    return await _view(runtime, await commands.awaiting_or_decided(runtime, fault_report_id))


@post(
    "/fault-reports/{fault_report_id:str}/confirm",
    **requires(*FRONT_DESK),
    operation_id="confirmFaultReport",
    tags=TAGS,
    status_code=200,
)
async def confirm_fault_report(
    request: CallerRequest,
    runtime: NamedDependency[IntakeRuntime],
    fault_report_id: FromPath[str],
    data: JSONBody[ConfirmIn],
) -> FaultReportView:
    """Confirm: the request is recorded (job.requested, channel portal, origin_reference the report's
    id; contact the customer's main one unless given). Once: 409 when already decided."""
    confirmed = await commands.confirm(
        runtime,
        principal_of(request),
        fault_report_id,
        contact=data.contact.details() if data.contact else None,
        priority=data.priority,
    )
    return await _view(runtime, confirmed)


@post(
    "/fault-reports/{fault_report_id:str}/dismiss",
    **requires(*FRONT_DESK),
    operation_id="dismissFaultReport",
    tags=TAGS,
    status_code=200,
)
async def dismiss_fault_report(
    request: CallerRequest,
    runtime: NamedDependency[IntakeRuntime],
    fault_report_id: FromPath[str],
    data: JSONBody[DismissIn],
) -> FaultReportView:
    """Dismiss with a reason; nothing is requested. Once: 409 when already decided."""
    dismissed = await commands.dismiss(runtime, principal_of(request), fault_report_id, reason=data.reason)
    return await _view(runtime, dismissed)


ROUTES = [report_fault, list_fault_reports, get_fault_report, confirm_fault_report, dismiss_fault_report]
