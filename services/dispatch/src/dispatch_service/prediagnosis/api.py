"""The assigned engineer's remote pre-diagnosis and commitment (phase 2), and departure."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from compressor_contracts import (
    JobEngineerDispatched,
    JobPrediagnosed,
    PartLine,
    PrediagnosisContact,
    ServiceCommitment,
)
from compressor_contracts.common import ShortText, Text
from compressor_kit.auth import Role, principal_of, requires
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from dispatch_service.jobs import DISPATCHED, JOBS, PREDIAGNOSED, engineer_of, job_view, load_job
from dispatch_service.prediagnosis.domain import (
    Refusal,
    check_assigned_engineer,
    check_can_depart,
    check_can_prediagnose,
)
from dispatch_service.settings import dispatch_settings
from dispatch_service.sla.domain import ARRIVE_BY, RESOLVE_BY, SlaPolicy, check_commitment

JobId = Annotated[str, Parameter(description="Job id.")]


class Commitment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    arrive_by: AwareDatetime = Field(description="Promised latest arrival on site.")
    resolve_by: AwareDatetime = Field(description="Promised latest resolution (inspection passed).")


class PrediagnosisInput(BaseModel):
    """What the engineer confirmed with the customer by phone or online, and promised."""

    model_config = ConfigDict(extra="forbid")
    contacted_via: PrediagnosisContact = Field(description="phone or online.")
    confirmed_symptoms: list[ShortText] = Field(min_length=1, max_length=50)
    suspected_causes: list[Text] = Field(min_length=1, max_length=20, description="Most likely first.")
    likely_parts: list[PartLine] = Field(default=[], max_length=100)
    commitment: Commitment
    notes: Text | None = None


class DepartureInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    eta: AwareDatetime = Field(description="Expected arrival on site.")


def _refuse(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise Problem(refusal.status, refusal.message, field=refusal.field)


@post(
    "/jobs/{job_id:str}/prediagnosis",
    **requires(Role.ENGINEER),
    operation_id="recordPrediagnosis",
    tags=["pre-diagnosis"],
    status_code=201,
)
async def record_prediagnosis(
    job_id: JobId, data: JSONBody[PrediagnosisInput], request: Request, runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    """The assigned engineer records the confirmed symptoms, suspected causes, likely parts and the
    commitment (arrive-by, resolve-by), which must respect the SLA policy for the job's priority.
    Publishes job.prediagnosed."""
    subject = principal_of(request).subject
    policy = SlaPolicy.from_settings(dispatch_settings(runtime))
    now = runtime.clock.now()

    async def work(uow: Any) -> dict[str, Any]:
        job = await load_job(uow.db, job_id, session=uow.session)
        _refuse(check_assigned_engineer(job, subject))
        _refuse(check_can_prediagnose(job))
        problem = check_commitment(
            policy, job["priority"], job["requested_at"], now, data.commitment.arrive_by, data.commitment.resolve_by
        )
        if problem is not None:
            raise Problem(422, problem.message, field=problem.field)
        commitment = {"arrive_by": data.commitment.arrive_by, "resolve_by": data.commitment.resolve_by}
        prediagnosis = data.model_dump(mode="json", exclude={"commitment"})
        await uow.db[JOBS].update_one(
            {"_id": job_id, "status": job["status"]},
            {
                "$set": {
                    "status": PREDIAGNOSED,
                    "prediagnosis": {**prediagnosis, "recorded_at": now, "engineer_id": subject},
                    "commitment": commitment,
                    "committed_at": now,
                    f"sla.{ARRIVE_BY}.due_at": commitment["arrive_by"],
                    f"sla.{ARRIVE_BY}.at_risk_at": policy.at_risk_at(job["requested_at"], commitment["arrive_by"]),
                    f"sla.{RESOLVE_BY}.due_at": commitment["resolve_by"],
                    f"sla.{RESOLVE_BY}.at_risk_at": policy.at_risk_at(job["requested_at"], commitment["resolve_by"]),
                    "updated_at": now,
                }
            },
            session=uow.session,
        )
        await uow.publish(
            JobPrediagnosed(
                job_id=job_id,
                engineer=engineer_of(job),
                contacted_via=data.contacted_via,
                confirmed_symptoms=data.confirmed_symptoms,
                suspected_causes=data.suspected_causes,
                likely_parts=data.likely_parts,
                commitment=ServiceCommitment(**commitment),
                notes=data.notes,
            ),
            correlation_id=job["correlation_id"],
        )
        return job_view(await load_job(uow.db, job_id, session=uow.session))

    return await runtime.outbox.transact(work)


@post(
    "/jobs/{job_id:str}/departure",
    **requires(Role.ENGINEER),
    operation_id="recordDeparture",
    tags=["pre-diagnosis"],
    status_code=201,
)
async def record_departure(
    job_id: JobId, data: JSONBody[DepartureInput], request: Request, runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    """The assigned engineer leaves for the site now, with an ETA. Publishes job.engineer_dispatched."""
    subject = principal_of(request).subject
    now = runtime.clock.now()

    async def work(uow: Any) -> dict[str, Any]:
        job = await load_job(uow.db, job_id, session=uow.session)
        _refuse(check_assigned_engineer(job, subject))
        _refuse(check_can_depart(job, now, data.eta))
        await uow.db[JOBS].update_one(
            {"_id": job_id, "status": PREDIAGNOSED},
            {"$set": {"status": DISPATCHED, "dispatch": {"departed_at": now, "eta": data.eta}, "updated_at": now}},
            session=uow.session,
        )
        await uow.publish(
            JobEngineerDispatched(job_id=job_id, engineer=engineer_of(job), departed_at=now, eta=data.eta),
            correlation_id=job["correlation_id"],
        )
        return job_view(await load_job(uow.db, job_id, session=uow.session))

    return await runtime.outbox.transact(work)


ROUTES = [record_prediagnosis, record_departure]
