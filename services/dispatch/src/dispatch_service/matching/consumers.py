"""dispatch.job-requests: match an engineer to every new job; stop work on cancelled jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from compressor_contracts import (
    AssignmentMode,
    CloudEvent,
    Engineer,
    JobCancelled,
    JobRequested,
    JobSlaAtRisk,
    SlaDeadline,
    SlaRiskReason,
)
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from dispatch_service.jobs import CANCELLED, CLOSED, JOBS, PRIORITY_RANK, UNASSIGNED, engineer_of, release
from dispatch_service.matching.domain import JobNeeds, match
from dispatch_service.matching.store import bookings_around, engineer_profiles, record_assignment
from dispatch_service.settings import dispatch_settings
from dispatch_service.sla.domain import ARRIVE_BY, SlaPolicy


def job_requests_consumer(runtime: Any) -> Consumer:
    async def on_job_requested(event: CloudEvent, uow: UnitOfWork) -> None:
        await assign_new_job(runtime, event, uow)

    async def on_job_cancelled(event: CloudEvent, uow: UnitOfWork) -> None:
        await cancel_job(runtime, event, uow)

    return Consumer("dispatch.job-requests", {JobRequested: on_job_requested, JobCancelled: on_job_cancelled})


async def assign_new_job(runtime: Any, event: CloudEvent, uow: UnitOfWork) -> None:
    request: JobRequested = event.data
    existing = await uow.db[JOBS].find_one({"_id": request.job_id}, {"status": 1}, session=uow.session)
    if existing is not None:
        return  # already matched (a replayed request under a new event id), or cancelled before it came
    settings = dispatch_settings(runtime)
    policy = SlaPolicy.from_settings(settings)
    now = runtime.clock.now()
    # The SLA counts from the request; a clock ahead of the sender is trusted over a future timestamp.
    requested_at = min(event.time, now)
    job: dict[str, Any] = {
        "_id": request.job_id,
        "status": UNASSIGNED,
        "priority": request.priority.value,
        "priority_rank": PRIORITY_RANK[request.priority],
        "requested_at": requested_at,
        "request_event_id": event.id,
        "correlation_id": event.correlationid,
        "channel": request.channel.value,
        "customer": request.customer.model_dump(mode="json"),
        "site": request.site.model_dump(mode="json"),
        "equipment": request.equipment.model_dump(mode="json"),
        "fault_description": request.fault_description,
        "engineer": None,
        "assignment_revision": 0,
        "sla": policy.initial_deadlines(request.priority.value, requested_at),
        "created_at": now,
        "updated_at": now,
    }
    needs = JobNeeds(
        job_id=request.job_id,
        region=request.site.region,
        compressor_type=request.equipment.compressor_type.value,
        brand=request.equipment.brand,
        priority=request.priority.value,
        earliest=max(now, requested_at),
        latest_start=policy.arrive_target(request.priority.value, requested_at),
    )
    engineers = await engineer_profiles(uow, {"regions": request.site.region})
    # A few from elsewhere only so that the reason can say why they were not chosen.
    others = await engineer_profiles(uow, {"regions": {"$ne": request.site.region}}, limit=10)
    bookings = await bookings_around(uow, engineers, needs.earliest, needs.latest_start)
    decision = match(needs, [*engineers, *others], bookings, timedelta(minutes=settings.dispatch_visit_minutes))
    job["reason"] = decision.reason
    await uow.db[JOBS].insert_one(job, session=uow.session)
    if decision.chosen is not None:
        chosen = decision.chosen
        await record_assignment(
            uow,
            job,
            engineer=Engineer(engineer_id=chosen.engineer.engineer_id, name=chosen.engineer.name),
            day=chosen.slot.day,
            start=chosen.slot.start,
            end=chosen.slot.end,
            mode=AssignmentMode.AUTOMATIC,
            matched_skills=list(chosen.matched_skills),
            reason=decision.reason,
            now=now,
            cause=event,
        )
        return
    arrive_due = job["sla"][ARRIVE_BY]["due_at"]
    await uow.db[JOBS].update_one(
        {"_id": request.job_id},
        {"$set": {"unassigned_since": now, "sla.arrive_by.unassigned_raised_at": now}},
        session=uow.session,
    )
    await uow.publish(
        JobSlaAtRisk(
            job_id=request.job_id,
            deadline=SlaDeadline.ARRIVE_BY,
            due_at=arrive_due,
            reason=SlaRiskReason.UNASSIGNED,
            priority=request.priority,
            engineer=None,
            detail=decision.reason,
        ),
        cause=event,
    )


async def cancel_job(runtime: Any, event: CloudEvent, uow: UnitOfWork) -> None:
    job_id = event.data.job_id
    now = runtime.clock.now()
    job = await uow.db[JOBS].find_one({"_id": job_id}, session=uow.session)
    if job is None:
        # Cancelled before the request reached us: a tombstone keeps the late request from being matched.
        await uow.db[JOBS].insert_one(
            {"_id": job_id, "status": CANCELLED, "cancelled_at": now, "updated_at": now}, session=uow.session
        )
        return
    if job["status"] in CLOSED:
        return
    engineer = engineer_of(job)
    if engineer is not None:
        await release(uow, engineer.engineer_id, job.get("booking_day"), job_id)
    await uow.db[JOBS].update_one(
        {"_id": job_id},
        {"$set": {"status": CANCELLED, "cancelled_at": now, "updated_at": now, "cancel_reason": event.data.reason}},
        session=uow.session,
    )
