"""Fault reports from a machine's QR label (pure, no I/O): anyone at the machine, without signing in,
says what is wrong with their name and phone. Nothing is requested yet: reception confirms a report
(it becomes a service request on the portal channel, job.requested) or dismisses it with a reason,
once."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from compressor_contracts import Priority, RequestChannel, StaffMember
from compressor_kit.refusals import FieldIssue, Refusal
from intake_service.customer_file.domain import ContactDetails, UnitOnFile, invalid
from intake_service.requests.domain import ServiceRequest

NAME_MAX, DESCRIPTION_MAX, REASON_MAX = 200, 2000, 2000
_SEPARATORS = re.compile(r"[\s\-().]")
# Malaysian numbers in E.164: +60, then 8 to 10 digits not starting with 0 (mobile 1x, landline 3-9).
_MALAYSIAN = re.compile(r"^\+60[1-9][0-9]{7,9}$")


class FaultReportStatus(StrEnum):
    AWAITING = "awaiting_confirmation"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


def malaysian_phone(raw: str) -> str | None:
    """E.164 from what a person types: '+60 12-345 6789', '012-345 6789', '0060123456789'; None otherwise."""
    digits = _SEPARATORS.sub("", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0"):
        digits = "+60" + digits[1:]
    elif digits.startswith("60"):
        digits = "+" + digits
    return digits if _MALAYSIAN.fullmatch(digits) else None


class FaultReport(BaseModel):
    """A fault reported at a machine. Its reporter is whoever stood there; the machine's customer is
    known from the label (reception sees it, the reporter never does)."""

    fault_report_id: str
    label_id: str
    equipment_id: str
    customer_id: str
    site_id: str
    reporter_name: str
    reporter_phone: str
    description: str
    reported_at: datetime
    status: FaultReportStatus = FaultReportStatus.AWAITING
    job_id: str | None = None
    """The request a confirmation recorded."""
    dismissal_reason: str | None = None
    decided_by: StaffMember | None = None
    decided_at: datetime | None = None

    def _awaiting(self) -> None:
        if self.status is not FaultReportStatus.AWAITING:
            raise Refusal.conflict(f"the fault report is already {self.status.value}", field="fault_report_id")

    def confirmed(self, job_id: str, by: StaffMember | None, now: datetime) -> FaultReport:
        """Confirmed by reception: the request `job_id` was recorded for it."""
        self._awaiting()
        return self.model_copy(
            update={"status": FaultReportStatus.CONFIRMED, "job_id": job_id, "decided_by": by, "decided_at": now}
        )

    def dismissed(self, reason: str, by: StaffMember | None, now: datetime) -> FaultReport:
        """Dismissed by reception (a prank, a duplicate, already in hand), saying why."""
        self._awaiting()
        reason = reason.strip()
        if not reason or len(reason) > REASON_MAX:
            raise invalid([FieldIssue("reason", f"say why the report is dismissed (at most {REASON_MAX} characters)")])
        return self.model_copy(
            update={
                "status": FaultReportStatus.DISMISSED,
                "dismissal_reason": reason,
                "decided_by": by,
                "decided_at": now,
            }
        )


def new_fault_report(
    fault_report_id: str,
    unit: UnitOnFile,
    *,
    reporter_name: str,
    reporter_phone: str,
    description: str,
    now: datetime,
) -> FaultReport:
    """The report as typed at the machine; refused naming every field at fault."""
    name, description = reporter_name.strip(), description.strip()
    issues = []
    if not name or len(name) > NAME_MAX:
        issues.append(FieldIssue("reporter_name", f"your name, at most {NAME_MAX} characters"))
    phone = malaysian_phone(reporter_phone)
    if phone is None:
        issues.append(
            FieldIssue("reporter_phone", "a Malaysian phone number, e.g. '012-345 6789' or '+60 12-345 6789'")
        )
    if not description or len(description) > DESCRIPTION_MAX:
        issues.append(FieldIssue("description", f"say what is wrong, at most {DESCRIPTION_MAX} characters"))
    if issues or phone is None or unit.label_id is None:
        raise invalid(issues or [FieldIssue("label_id", "unknown label")])
    return FaultReport(
        fault_report_id=fault_report_id,
        label_id=unit.label_id,
        equipment_id=unit.equipment_id,
        customer_id=unit.customer_id,
        site_id=unit.site_id,
        reporter_name=name,
        reporter_phone=phone,
        description=description,
        reported_at=now,
    )


def as_request(report: FaultReport, contact: ContactDetails | None, priority: Priority | None) -> ServiceRequest:
    """The service request a confirmed report records: on the portal channel, naming the report, for the
    machine's customer; its contact is the customer's main one unless reception gives another."""
    reporter = f"\n\nReported at the machine (QR label) by {report.reporter_name}, {report.reporter_phone}."
    fault = report.description[: DESCRIPTION_MAX - len(reporter)] + reporter
    return ServiceRequest(
        channel=RequestChannel.PORTAL,
        priority=priority,
        customer_id=report.customer_id,
        site_id=report.site_id,
        equipment_id=report.equipment_id,
        fault_description=fault,
        contact=contact,
        origin_reference=report.fault_report_id,
    )
