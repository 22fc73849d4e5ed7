"""Recording a request: look the customer, site and unit up in the customer file, let the domain
open the job, and store it with its job.requested in one transaction. Shared by the request API and
the call-back records."""

from __future__ import annotations

from dataclasses import dataclass, replace

from pymongo.errors import DuplicateKeyError

from compressor_contracts import StaffMember
from compressor_kit.auth import Principal
from compressor_kit.outbox import UnitOfWork
from compressor_kit.refusals import Refusal
from intake_service.actors import ensure_may_see_customer, is_staff, staff_member
from intake_service.catalogue.store import CATALOGUE
from intake_service.customer_file import store as file_store
from intake_service.customer_file.domain import UnitOnFile
from intake_service.ids import new_id
from intake_service.requests import domain, photos
from intake_service.requests import store as jobs
from intake_service.requests.domain import FileLookup, Job, ServiceRequest
from intake_service.settings import IntakeRuntime


@dataclass(frozen=True)
class PreparedJob:
    job: Job
    new_unit: UnitOnFile | None
    """A unit the request described that is not on file yet: registered with the job."""

    async def record(self, uow: UnitOfWork) -> None:
        """The job, its new unit and its job.requested, in the caller's transaction."""
        if self.new_unit is not None:
            await file_store.insert_unit(uow, self.new_unit)
        await jobs.insert_job(uow, self.job)
        await uow.publish(self.job.requested)


async def _look_up(runtime: IntakeRuntime, request: ServiceRequest) -> FileLookup:
    customer = await file_store.load_customer(runtime, request.customer_id)
    site = await file_store.load_site(runtime, request.site_id)
    if request.equipment is None:
        unit = await file_store.load_unit(runtime, request.equipment_id) if request.equipment_id else None
        return FileLookup(customer, site, unit)
    model = CATALOGUE.get(request.equipment.model_code)
    same_serial = (
        await file_store.unit_with_serial(runtime, model.brand, request.equipment.serial_number) if model else None
    )
    return FileLookup(customer, site, None, model, same_serial)


async def prepare_job(
    runtime: IntakeRuntime,
    request: ServiceRequest,
    recorded_by: StaffMember | None,
    *,
    idempotency_key: str | None = None,
    request_fingerprint: str | None = None,
) -> PreparedJob:
    """The job the request opens, checked against the customer file (refused naming the field).
    Writes nothing."""
    now = runtime.clock.now()
    job, new_unit = domain.open_job(
        request,
        await _look_up(runtime, request),
        job_id=new_id("JOB"),
        new_unit_id=new_id("EQ"),
        recorded_by=recorded_by,
        now=now,
        today=now.date(),
    )
    job = job.model_copy(update={"idempotency_key": idempotency_key, "request_fingerprint": request_fingerprint})
    return PreparedJob(job, new_unit)


@dataclass(frozen=True)
class Recorded:
    job: Job
    replayed: bool
    """True when an earlier request with the same Idempotency-Key recorded the job."""


def _replay(job: Job, request_fingerprint: str) -> Recorded:
    if job.request_fingerprint != request_fingerprint:
        raise Refusal.invalid("this Idempotency-Key was used for a different request", field="Idempotency-Key")
    return Recorded(job, replayed=True)


async def record_service_request(
    runtime: IntakeRuntime,
    principal: Principal,
    request: ServiceRequest,
    *,
    idempotency_key: str | None,
    request_fingerprint: str,
) -> Recorded:
    """Record a request and publish job.requested, once per Idempotency-Key. A customer records
    requests for itself only, through the portal."""
    by_customer = not is_staff(principal)
    if by_customer:
        ensure_may_see_customer(principal, request.customer_id)
    domain.check_request(request, by_customer=by_customer)
    request = replace(request, photo_keys=tuple(photos.check_photo_keys(request.photo_keys, request.customer_id)))
    # Scoped to the caller so one client's key can never return another's job.
    scoped_key = f"{principal.subject}|{idempotency_key}" if idempotency_key else None
    if scoped_key and (earlier := await jobs.job_with_idempotency_key(runtime, scoped_key)):
        return _replay(earlier, request_fingerprint)
    await photos.accept_photos(runtime, list(request.photo_keys))
    prepared = await prepare_job(
        runtime,
        request,
        staff_member(principal),
        idempotency_key=scoped_key,
        request_fingerprint=request_fingerprint,
    )
    try:
        await runtime.outbox.transact(prepared.record)
    except DuplicateKeyError:
        # A concurrent request with the same key won: answer with its job, publish nothing.
        if scoped_key and (earlier := await jobs.job_with_idempotency_key(runtime, scoped_key)):
            return _replay(earlier, request_fingerprint)
        raise Refusal.conflict("the unit was registered concurrently; retry", field="equipment.serial_number") from None
    return Recorded(prepared.job, replayed=False)


async def cancel_job(
    runtime: IntakeRuntime, principal: Principal, job_id: str, *, reason: str, cancelled_by: str | None
) -> Job:
    """Cancel an open job at the customer's request and publish job.cancelled, in one transaction."""
    now, recorded_by = runtime.clock.now(), staff_member(principal)

    async def cancel(uow: UnitOfWork) -> Job:
        before = await jobs.load_job(uow, job_id)
        if before is None:
            raise Refusal.not_found("unknown job", field="job_id")
        ensure_may_see_customer(principal, before.requested.customer.customer_id)
        after, cancelled = before.cancel(reason, cancelled_by, recorded_by, now)
        await jobs.save_job(uow, before, after)
        await uow.publish(cancelled)
        return after

    return await runtime.outbox.transact(cancel)
