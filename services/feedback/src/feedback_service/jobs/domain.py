"""What feedback knows of one job, pure: the customer's contact and preference (from job.requested),
the latest record (from job.report_published), the survey's state, the scores, the review and the
close."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from compressor_contracts.common import (
    Contact,
    Customer,
    Equipment,
    Priority,
    ServiceOutcome,
    Site,
    StaffMember,
    StoredObject,
)
from compressor_contracts.events.feedback import FollowUp, SurveyStatus


class JobRecord(BaseModel):
    """The job's latest maintenance record, as job.report_published told it."""

    record_id: str
    record_version: int
    report: StoredObject
    outcome: ServiceOutcome


class ReviewMemo(BaseModel):
    """The internal review of a job (phase 9), written once."""

    reviewer: StaffMember
    memo: str
    lessons: list[str]
    follow_ups: list[FollowUp]


class Job(BaseModel):
    """One job as feedback keeps it, once its job.requested was handled."""

    model_config = ConfigDict(extra="ignore")

    job_id: str
    correlation_id: str | None = None
    customer: Customer
    contact: Contact
    site: Site
    equipment: Equipment
    priority: Priority
    fault_description: str
    cancelled: bool = False
    record: JobRecord | None = None
    survey_id: str | None = None
    survey_status: Literal["open"] | SurveyStatus | None = None  # open: see surveys.domain.OPEN
    csat: int | None = None
    nps: int | None = None
    low_score: bool = False
    review_urgent: bool = False
    review_pending: bool = False
    reviewed_at: datetime | None = None
    review: ReviewMemo | None = None
    closed_at: datetime | None = None

    def context(self) -> dict[str, Any]:
        """The job's details as message templates see them."""
        return {
            "job_id": self.job_id,
            "customer": self.customer.model_dump(mode="json"),
            "contact": self.contact.model_dump(mode="json"),
            "site": self.site.model_dump(mode="json"),
            "equipment": self.equipment.model_dump(mode="json"),
            "priority": self.priority.value,
            "fault_description": self.fault_description,
        }
