"""Matching's commands: assign every new job (or queue it, at risk), assign by hand, cancel.

Each runs in one transaction: the job, the engineer's bookings, the assignment history and the
events change together or not at all.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from compressor_contracts import AssignmentMode, CloudEvent, JobAssigned, JobCancelled, JobRequested, StaffMember
from compressor_kit.outbox import UnitOfWork
from dispatch_service.engineers import store as engineers
from dispatch_service.jobs import store as jobs
from dispatch_service.jobs.domain import Job, Window
from dispatch_service.matching import domain
from dispatch_service.matching import store as bookings
from dispatch_service.settings import DispatchRuntime, DispatchSettings
from dispatch_service.sla.domain import SlaPolicy

# Engineers from other regions considered only so that the reason can say why they were not chosen.
OTHERS_NAMED = 10


async def _assign(
    uow: UnitOfWork,
    before: Job,
    after: Job,
    event: JobAssigned,
    *,
    now: datetime,
    cause: CloudEvent[Any] | None = None,
) -> Job:
    """Move the booking with the job, store it, write the history row and record job.assigned."""
    assert after.engineer is not None and after.scheduled_window is not None and after.booking_day is not None
    await bookings.release(uow, before)
    await bookings.book(
        uow,
        after.engineer.engineer_id,
        date.fromisoformat(after.booking_day),
        after.job_id,
        after.scheduled_window.start,
        after.scheduled_window.end,
    )
    stored = await jobs.apply(uow, before, after, [event], cause=cause)
    assigned_by = event.assigned_by.user_id if event.assigned_by else None
    await bookings.record_assignment(uow, before, stored, assigned_by, now)
    return stored


async def assign_new_job(
    uow: UnitOfWork, event: CloudEvent[JobRequested], settings: DispatchSettings, now: datetime
) -> None:
    """job.requested: the job, assigned to the best engineer, or queued unassigned and at risk."""
    request = event.data
    if await jobs.status_of(uow, request.job_id) is not None:
        return  # already matched (a replayed request under a new event id), or cancelled before it came
    policy = SlaPolicy.from_settings(settings)
    # The SLA counts from the request; a clock ahead of the sender is trusted over a future timestamp.
    job = domain.new_job(request, event.id, event.correlationid, min(event.time, now), policy, now)
    needs = domain.needs_of(job, policy, now)
    candidates = await engineers.profiles_in(uow, needs.region)
    others = await engineers.profiles_outside(uow, needs.region, OTHERS_NAMED)
    booked = await bookings.bookings_around(uow, candidates, needs.earliest, needs.latest_start)
    decision = domain.match(needs, [*candidates, *others], booked, timedelta(minutes=settings.dispatch_visit_minutes))
    if decision.chosen is None:
        queued, at_risk = domain.left_unassigned(job, decision.reason, now)
        await jobs.insert(uow, queued)
        await uow.publish(at_risk, cause=event)
        return
    await jobs.insert(uow, job)
    chosen = decision.chosen
    after, assigned = domain.assign(
        job,
        chosen.engineer,
        chosen.slot.start,
        chosen.slot.end,
        chosen.slot.day,
        AssignmentMode.AUTOMATIC,
        decision.reason,
        now,
    )
    await _assign(uow, job, after, assigned, now=now, cause=event)


async def assign_by_hand(
    runtime: DispatchRuntime,
    job_id: str,
    engineer_id: str,
    reason: str,
    window: Window | None,
    dispatcher: StaffMember,
) -> Job:
    """A dispatcher assigns an unassigned job, or reassigns an assigned one, to the engineer named,
    in the window given or the engineer's earliest free slot."""
    settings = runtime.settings
    now = runtime.clock.now()
    if window is not None:
        domain.check_window(window.start, window.end, now)

    async def work(uow: UnitOfWork) -> Job:
        job = await jobs.load(uow, job_id)
        domain.check_reassignable(job, engineer_id)
        engineer = domain.check_assignable(await engineers.profile(uow, engineer_id), engineer_id)
        if window is not None:
            start, end, day = window.start, window.end, engineer.local_day(window.start)
        else:
            horizon = now + timedelta(days=settings.dispatch_manual_horizon_days)
            booked = await bookings.bookings_around(uow, [engineer], now, horizon)
            visit = timedelta(minutes=settings.dispatch_visit_minutes)
            slot = domain.earliest_slot(engineer, booked.get(engineer.engineer_id, {}), now, horizon, visit)
            start, end, day = slot.start, slot.end, slot.day
        after, assigned = domain.assign(
            job, engineer, start, end, day, AssignmentMode.MANUAL, reason, now, assigned_by=dispatcher
        )
        return await _assign(uow, job, after, assigned, now=now)

    return await runtime.outbox.transact(work)


async def cancel_job(uow: UnitOfWork, event: CloudEvent[JobCancelled], now: datetime) -> None:
    """job.cancelled: stop work on the job and free its engineer's slot."""
    job_id = event.data.job_id
    if await jobs.status_of(uow, job_id) is None:
        # Cancelled before the request reached us: a tombstone keeps the late request from being matched.
        await jobs.insert_tombstone(uow, job_id, now)
        return
    job = await jobs.find(uow, job_id)
    if job is None or job.closed:
        return
    await bookings.release(uow, job)
    await jobs.save(uow, job, domain.cancelled(job, event.data.reason, now))
