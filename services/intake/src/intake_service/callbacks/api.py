"""HTTP API of call-back records: one that reports a problem raises a request (job.requested)."""

from __future__ import annotations

from datetime import datetime

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import Contact, Priority, StaffMember
from compressor_kit.auth import STAFF, principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from intake_service.actors import FRONT_DESK, CallerRequest
from intake_service.callbacks import commands
from intake_service.callbacks import store as callbacks
from intake_service.callbacks.domain import Callback, CallbackDetails, CallbackOutcome
from intake_service.customer_file.api import ContactIn
from intake_service.requests import store as jobs
from intake_service.requests.api import IdempotencyKey, fingerprint
from intake_service.requests.domain import Job
from intake_service.requests.views import JOB_EXAMPLE, JobView, job_view
from intake_service.settings import IntakeRuntime

TAGS = ["Call-backs"]


class CallbackIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "CUST-1A2B3C4D5E6F",
                    "site_id": "SITE-7F3A9C21B04D",
                    "equipment_id": "EQ-5D0E8B7A1C92",
                    "previous_job_id": "JOB-2026-000042",
                    "outcome": "problem_reported",
                    "notes": "Since the visit the dryer alarm comes on every morning.",
                    "priority": "high",
                }
            ]
        },
    )

    customer_id: str = Field(max_length=64)
    site_id: str = Field(max_length=64)
    equipment_id: str = Field(max_length=64, description="The unit the call was about.")
    previous_job_id: str | None = Field(default=None, max_length=64, description="The job the visit followed up.")
    outcome: CallbackOutcome
    notes: str = Field(min_length=1, max_length=2000, description="What the customer said; the fault if any.")
    priority: Priority | None = Field(default=None, description="For the request a problem raises; default normal.")
    contact: ContactIn | None = Field(default=None, description="Who was called; defaults to the main contact.")

    def details(self) -> CallbackDetails:
        return CallbackDetails(
            customer_id=self.customer_id,
            site_id=self.site_id,
            equipment_id=self.equipment_id,
            outcome=self.outcome,
            notes=self.notes,
            previous_job_id=self.previous_job_id,
            priority=self.priority,
            contact=self.contact.details() if self.contact else None,
        )


class CallbackView(BaseModel):
    """A call-back record, with the request it raised (null when the customer was satisfied)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "callback_id": "CB-3E7A0B5C9D12",
                    "customer_id": "CUST-0107",
                    "site_id": "SITE-0107-02",
                    "equipment_id": "EQ-7781",
                    "previous_job_id": "JOB-2026-000042",
                    "outcome": "problem_reported",
                    "notes": "Since the visit the dryer alarm comes on every morning.",
                    "contact": JOB_EXAMPLE["contact"],
                    "recorded_by": JOB_EXAMPLE["recorded_by"],
                    "recorded_at": "2026-03-10T09:30:00Z",
                    "job_id": "JOB-2026-000057",
                    "job": {**JOB_EXAMPLE, "job_id": "JOB-2026-000057", "channel": "callback"},
                }
            ]
        }
    )

    callback_id: str
    customer_id: str
    site_id: str
    equipment_id: str
    previous_job_id: str | None
    outcome: CallbackOutcome
    notes: str
    contact: Contact
    recorded_by: StaffMember | None
    recorded_at: datetime
    job_id: str | None
    job: JobView | None


def _view(callback: Callback, job: Job | None, now: datetime) -> CallbackView:
    return CallbackView(
        **callback.model_dump(exclude={"request_fingerprint", "idempotency_key"}),
        job=job_view(job, now) if job else None,
    )


@post("/callbacks", **requires(*FRONT_DESK), operation_id="recordCallback", tags=TAGS)
async def record_callback(
    request: CallerRequest,
    runtime: NamedDependency[IntakeRuntime],
    data: JSONBody[CallbackIn],
    idempotency_key: IdempotencyKey = None,
) -> Response[CallbackView]:
    """Record a return-visit call; when the customer reports a problem, the request it raises
    (channel callback) is recorded with it and job.requested published. 201; 200 on a repeated key."""
    recorded = await commands.record_callback(
        runtime,
        principal_of(request),
        data.details(),
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint(data),
    )
    callback = recorded.callback
    job = await jobs.load_job(runtime, callback.job_id) if callback.job_id else None
    view = _view(callback, job, runtime.clock.now())
    if recorded.replayed:
        return Response(view, status_code=200, headers={"Idempotent-Replayed": "true"})
    return Response(view, status_code=201)


@get("/callbacks", **requires(*STAFF), operation_id="listCallbacks", tags=TAGS)
async def list_callbacks(
    runtime: NamedDependency[IntakeRuntime],
    customer_id: FromQuery[str | None] = None,
    outcome: FromQuery[CallbackOutcome | None] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[CallbackView]:
    """Call-back records, newest first."""
    found, total = await callbacks.callbacks_page(
        runtime, customer_id=customer_id, outcome=outcome, limit=limit, offset=offset
    )
    raised = await jobs.jobs_by_id(runtime, [c.job_id for c in found if c.job_id])
    now = runtime.clock.now()
    items = [_view(c, raised.get(c.job_id) if c.job_id else None, now) for c in found]
    return Page(items=items, total=total, limit=limit, offset=offset)


ROUTES = [record_callback, list_callbacks]
