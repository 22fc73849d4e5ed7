"""Call-back (return-visit) records (pure, no I/O): reception calls the customer back after a job;
an outcome that reports a problem becomes a service request on the callback channel."""

from __future__ import annotations

import hashlib
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import Priority, RequestChannel
from intake_service.customer_file.domain import ContactIn
from intake_service.requests.domain import RequestIn


class CallbackOutcome(StrEnum):
    SATISFIED = "satisfied"
    PROBLEM_REPORTED = "problem_reported"


class CallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    customer_id: str = Field(max_length=64)
    site_id: str = Field(max_length=64)
    equipment_id: str = Field(max_length=64, description="The unit the call was about.")
    previous_job_id: str | None = Field(default=None, max_length=64, description="The job the visit followed up.")
    outcome: CallbackOutcome
    notes: str = Field(min_length=1, max_length=2000, description="What the customer said; the fault if any.")
    priority: Priority | None = Field(default=None, description="For the request a problem raises; default normal.")
    contact: ContactIn | None = Field(default=None, description="Who was called; defaults to the main contact.")


def as_request(callback_id: str, callback: CallbackIn) -> RequestIn:
    """The service request the call-back stands for (recorded only when it reports a problem)."""
    return RequestIn(
        channel=RequestChannel.CALLBACK,
        priority=callback.priority,
        customer_id=callback.customer_id,
        site_id=callback.site_id,
        equipment_id=callback.equipment_id,
        fault_description=callback.notes,
        contact=callback.contact,
        origin_reference=callback_id,
    )


def fingerprint(callback: CallbackIn) -> str:
    return hashlib.sha256(callback.model_dump_json().encode()).hexdigest()
