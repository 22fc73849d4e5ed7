"""The assigned engineer's remote pre-diagnosis and commitment (phase 2), and departure."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from compressor_contracts import PartLine, PrediagnosisContact, StaffRole
from compressor_contracts.common import ShortText, Text
from compressor_kit.auth import principal_of, requires
from dispatch_service.jobs.api import JobView
from dispatch_service.jobs.domain import Commitment
from dispatch_service.jobs.store import change_job
from dispatch_service.prediagnosis.domain import depart, prediagnose
from dispatch_service.settings import DispatchRuntime
from dispatch_service.sla.domain import SlaPolicy

TAGS = ["Pre-diagnosis"]
JobId = Annotated[str, Parameter(description="Job id.")]


class CommitmentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    arrive_by: AwareDatetime = Field(description="Promised latest arrival on site.")
    resolve_by: AwareDatetime = Field(description="Promised latest resolution (inspection passed).")


class PrediagnosisInput(BaseModel):
    """What the engineer confirmed with the customer by phone or online, and promised."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "contacted_via": "phone",
                    "confirmed_symptoms": ["Trips on high discharge temperature after ~40 min", "Oil visibly dark"],
                    "suspected_causes": ["Thermostatic valve stuck", "Fouled oil cooler"],
                    "likely_parts": [
                        {"part_number": "1622-3600-00", "description": "Thermostatic valve kit", "quantity": 1}
                    ],
                    "commitment": {"arrive_by": "2030-01-07T14:00:00Z", "resolve_by": "2030-01-08T04:00:00Z"},
                    "notes": "Customer will keep the standby unit running.",
                }
            ]
        },
    )
    contacted_via: PrediagnosisContact = Field(description="phone or online.")
    confirmed_symptoms: list[ShortText] = Field(min_length=1, max_length=50)
    suspected_causes: list[Text] = Field(min_length=1, max_length=20, description="Most likely first.")
    likely_parts: list[PartLine] = Field(default=[], max_length=100)
    commitment: CommitmentInput
    notes: Text | None = None


class DepartureInput(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"eta": "2030-01-07T13:30:00Z"}]})
    eta: AwareDatetime = Field(description="Expected arrival on site.")


@post(
    "/jobs/{job_id:str}/prediagnosis",
    **requires(StaffRole.ENGINEER),
    operation_id="recordPrediagnosis",
    tags=TAGS,
    status_code=201,
)
async def record_prediagnosis(
    job_id: JobId,
    data: JSONBody[PrediagnosisInput],
    request: Request[Any, Any, Any],
    runtime: NamedDependency[DispatchRuntime],
) -> JobView:
    """The assigned engineer records the confirmed symptoms, suspected causes, likely parts and the
    commitment (arrive-by, resolve-by), which must respect the SLA policy for the job's priority.
    Publishes job.prediagnosed."""
    subject = principal_of(request).subject
    policy = SlaPolicy.from_settings(runtime.settings)
    now = runtime.clock.now()
    commitment = Commitment(arrive_by=data.commitment.arrive_by, resolve_by=data.commitment.resolve_by)
    job = await change_job(
        runtime,
        job_id,
        lambda job: prediagnose(
            job,
            subject,
            policy,
            now,
            contacted_via=data.contacted_via,
            confirmed_symptoms=data.confirmed_symptoms,
            suspected_causes=data.suspected_causes,
            likely_parts=data.likely_parts,
            notes=data.notes,
            commitment=commitment,
        ),
    )
    return JobView.of(job)


@post(
    "/jobs/{job_id:str}/departure",
    **requires(StaffRole.ENGINEER),
    operation_id="recordDeparture",
    tags=TAGS,
    status_code=201,
)
async def record_departure(
    job_id: JobId,
    data: JSONBody[DepartureInput],
    request: Request[Any, Any, Any],
    runtime: NamedDependency[DispatchRuntime],
) -> JobView:
    """The assigned engineer leaves for the site now, with an ETA. Publishes job.engineer_dispatched."""
    subject = principal_of(request).subject
    now = runtime.clock.now()
    job = await change_job(runtime, job_id, lambda job: depart(job, subject, now, data.eta))
    return JobView.of(job)


ROUTES = [record_prediagnosis, record_departure]
