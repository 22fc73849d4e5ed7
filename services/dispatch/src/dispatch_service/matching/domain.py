"""Choosing the engineer for a job. Pure Python: no I/O, time passed in.

Rules: the engineer must be active, cover the site's region and be skilled in both the
compressor type and the brand; among those, the one with the earliest free slot that starts
within the priority's target wins; ties go to the engineer with fewer jobs booked (workload
balance), then to the lower engineer id (a stable, explainable order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from compressor_contracts import (
    AssignmentMode,
    Engineer,
    JobAssigned,
    JobRequested,
    JobSlaAtRisk,
    SlaDeadline,
    SlaRiskReason,
    StaffMember,
    TimeWindow,
)
from compressor_kit.refusals import Refusal
from dispatch_service.engineers.domain import EngineerProfile
from dispatch_service.jobs.domain import Job, JobStatus, Window
from dispatch_service.sla.domain import SlaPolicy

SLOT_GRANULARITY = timedelta(minutes=15)
MAX_REASON = 2000


@dataclass(frozen=True)
class Booking:
    job_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class JobNeeds:
    job_id: str
    region: str
    compressor_type: str
    brand: str
    priority: str
    earliest: datetime
    """No slot before this (now, rounded up)."""
    latest_start: datetime
    """The priority's arrival target: a slot must start by then."""


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    day: date
    """The engineer's local day the slot counts against (capacity)."""
    booked_that_day: int


@dataclass(frozen=True)
class Candidate:
    engineer: EngineerProfile
    slot: Slot
    workload: int
    matched_skills: tuple[str, ...]


@dataclass
class MatchDecision:
    chosen: Candidate | None
    reason: str
    candidates: list[Candidate] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def round_up(moment: datetime, step: timedelta = SLOT_GRANULARITY) -> datetime:
    """The next slot boundary at or after `moment` (quarter hours)."""
    epoch = datetime(2000, 1, 1, tzinfo=moment.tzinfo)
    steps = -((epoch - moment) // step)  # ceiling division
    return epoch + steps * step


def skill_gaps(engineer: EngineerProfile, compressor_type: str, brand: str) -> list[str]:
    gaps = []
    if compressor_type not in engineer.compressor_types:
        gaps.append(f"not skilled in {compressor_type} compressors")
    if brand.casefold() not in engineer.brands:
        gaps.append(f"not trained on the {brand} brand")
    return gaps


def skills_matching(engineer: EngineerProfile, compressor_type: str, brand: str) -> tuple[str, ...]:
    """The engineer's skills that match the equipment: its type and 'brand:<brand>'."""
    matched = []
    if compressor_type in engineer.compressor_types:
        matched.append(compressor_type)
    if brand.casefold() in engineer.brands:
        matched.append(f"brand:{brand}")
    return tuple(matched)


def free_slot(
    engineer: EngineerProfile,
    bookings_by_day: Mapping[date, list[Booking]],
    earliest: datetime,
    latest_start: datetime,
    visit: timedelta,
) -> tuple[Slot | None, str]:
    """The engineer's earliest free slot of length `visit` starting in [earliest, latest_start]
    within a shift, on a day not on leave and below the daily capacity; else None and why not."""
    earliest = round_up(earliest)
    day = engineer.local_day(earliest)
    last_day = engineer.local_day(latest_start)
    seen_leave = seen_full = seen_shift = False
    while day <= last_day:
        if engineer.on_leave(day):
            seen_leave = True
        else:
            booked = sorted(bookings_by_day.get(day, []), key=lambda b: b.start)
            shifts = engineer.shifts_on(day)
            if shifts and len(booked) >= engineer.capacity_per_day:
                seen_full = True
            for shift_start, shift_end in shifts if len(booked) < engineer.capacity_per_day else []:
                seen_shift = True
                start = max(shift_start, earliest)
                for booking in booked:  # move past every booking that overlaps the candidate slot
                    if booking.end <= start:
                        continue
                    if booking.start >= start + visit:
                        break
                    start = round_up(booking.end)
                if start + visit <= shift_end and start <= latest_start:
                    return Slot(start, start + visit, day, len(booked)), ""
        day += timedelta(days=1)
    target = f"{latest_start:%Y-%m-%d %H:%M} UTC" if latest_start.utcoffset() == timedelta(0) else latest_start
    if seen_full:
        why = f"fully booked (capacity {engineer.capacity_per_day} a day) before {target}"
    elif seen_leave and not seen_shift:
        why = f"on leave until after {target}"
    else:
        why = f"no free slot in a shift before {target}"
    return None, why


def workload(bookings_by_day: Mapping[date, Iterable[Booking]]) -> int:
    return sum(len(list(b)) for b in bookings_by_day.values())


def match(
    job: JobNeeds,
    engineers: Iterable[EngineerProfile],
    bookings: Mapping[str, Mapping[date, list[Booking]]],
    visit: timedelta,
) -> MatchDecision:
    """Pick the engineer for `job`; `bookings` maps engineer id -> local day -> bookings."""
    candidates: list[Candidate] = []
    rejected: list[tuple[str, str]] = []
    for engineer in sorted(engineers, key=lambda e: e.engineer_id):
        if not engineer.active:
            rejected.append((engineer.engineer_id, "inactive"))
            continue
        if job.region not in engineer.regions:
            rejected.append((engineer.engineer_id, f"does not cover region {job.region}"))
            continue
        gaps = skill_gaps(engineer, job.compressor_type, job.brand)
        if gaps:
            rejected.append((engineer.engineer_id, " and ".join(gaps)))
            continue
        own = bookings.get(engineer.engineer_id, {})
        slot, why = free_slot(engineer, own, job.earliest, job.latest_start, visit)
        if slot is None:
            rejected.append((engineer.engineer_id, why))
            continue
        candidates.append(
            Candidate(engineer, slot, workload(own), skills_matching(engineer, job.compressor_type, job.brand))
        )
    candidates.sort(key=lambda c: (c.slot.start, c.workload, c.engineer.engineer_id))
    chosen = candidates[0] if candidates else None
    return MatchDecision(chosen, explain(job, chosen, candidates[1:], rejected), candidates, rejected)


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(moment.tzinfo):%Y-%m-%d %H:%M %Z}".strip()


def explain(job: JobNeeds, chosen: Candidate | None, others: list[Candidate], rejected: list[tuple[str, str]]) -> str:
    if chosen is None:
        text = (
            f"No engineer can be assigned: nobody covering region {job.region} and skilled in "
            f"{job.compressor_type} compressors of the {job.brand} brand has a free slot before the "
            f"{job.priority} target ({_when(job.latest_start)})."
        )
        if rejected:
            text += " " + "; ".join(f"{eid}: {why}" for eid, why in rejected) + "."
        else:
            text += " No engineers are registered."
        return text[:MAX_REASON]
    engineer = chosen.engineer
    text = (
        f"{engineer.name} ({engineer.engineer_id}) covers region {job.region}, is skilled in "
        f"{job.compressor_type} compressors and trained on {job.brand}, and has the earliest free slot "
        f"({_when(chosen.slot.start)}), within the {job.priority} target ({_when(job.latest_start)}); "
        f"{chosen.workload} job(s) already booked."
    )
    ties = [c for c in others if c.slot.start == chosen.slot.start]
    if ties:
        text += (
            " Same slot, not fewer jobs booked: "
            + ", ".join(f"{c.engineer.engineer_id} ({c.workload})" for c in ties)
            + "."
        )
    later = [c for c in others if c.slot.start > chosen.slot.start]
    if later:
        text += " Later slots: " + ", ".join(f"{c.engineer.engineer_id} ({_when(c.slot.start)})" for c in later) + "."
    if rejected:
        text += " Not eligible: " + "; ".join(f"{eid} ({why})" for eid, why in rejected) + "."
    return text[:MAX_REASON]


# --- the job's assignment ------------------------------------------------------


def new_job(
    request: JobRequested, event_id: str, correlation_id: str, requested_at: datetime, policy: SlaPolicy, now: datetime
) -> Job:
    """The job as dispatch first holds it: unassigned, with the policy's deadlines for its priority."""
    return Job(
        job_id=request.job_id,
        status=JobStatus.UNASSIGNED,
        priority=request.priority,
        requested_at=requested_at,
        request_event_id=event_id,
        correlation_id=correlation_id,
        channel=request.channel,
        customer=request.customer,
        site=request.site,
        equipment=request.equipment,
        fault_description=request.fault_description,
        sla=policy.initial_deadlines(request.priority, requested_at),
        created_at=now,
        updated_at=now,
    )


def needs_of(job: Job, policy: SlaPolicy, now: datetime) -> JobNeeds:
    return JobNeeds(
        job_id=job.job_id,
        region=job.site.region,
        compressor_type=job.equipment.compressor_type.value,
        brand=job.equipment.brand,
        priority=job.priority.value,
        earliest=max(now, job.requested_at),
        latest_start=policy.arrive_target(job.priority, job.requested_at),
    )


def left_unassigned(job: Job, reason: str, now: datetime) -> tuple[Job, JobSlaAtRisk]:
    """Nobody can be matched: the job waits in the unassigned queue, its arrive-by at risk already."""
    arrive_by = job.sla.arrive_by.model_copy(update={"unassigned_raised_at": now})
    after = job.model_copy(
        update={
            "reason": reason,
            "unassigned_since": now,
            "sla": job.sla.model_copy(update={"arrive_by": arrive_by}),
            "updated_at": now,
        }
    )
    event = JobSlaAtRisk(
        job_id=job.job_id,
        deadline=SlaDeadline.ARRIVE_BY,
        due_at=job.sla.arrive_by.due_at,
        reason=SlaRiskReason.UNASSIGNED,
        priority=job.priority,
        engineer=None,
        detail=reason,
    )
    return after, event


def check_window(start: datetime, end: datetime, now: datetime) -> None:
    """A visit slot a dispatcher gives."""
    if end <= start:
        raise Refusal.invalid("end must be after start", field="scheduled_window.end")
    if end <= now:
        raise Refusal.invalid("the window is in the past", field="scheduled_window.end")


def check_reassignable(job: Job, engineer_id: str) -> None:
    """A dispatcher may (re)assign an open job to an engineer other than its current one."""
    if job.closed:
        raise Refusal.conflict(f"job {job.job_id} is {job.status.value}", field="job_id")
    if job.engineer is not None and job.engineer.engineer_id == engineer_id:
        raise Refusal.conflict(f"job {job.job_id} is already assigned to {engineer_id}", field="engineer_id")


def check_assignable(engineer: EngineerProfile | None, engineer_id: str) -> EngineerProfile:
    """The engineer a dispatcher named: registered and active."""
    if engineer is None:
        raise Refusal.invalid(f"unknown engineer {engineer_id}", field="engineer_id")
    if not engineer.active:
        raise Refusal.invalid(f"engineer {engineer_id} is inactive", field="engineer_id")
    return engineer


def earliest_slot(
    engineer: EngineerProfile,
    bookings_by_day: Mapping[date, list[Booking]],
    now: datetime,
    horizon: datetime,
    visit: timedelta,
) -> Slot:
    """The engineer's earliest free slot up to `horizon`, for a dispatcher who gave no window."""
    slot, why = free_slot(engineer, bookings_by_day, now, horizon, visit)
    if slot is None:
        raise Refusal.conflict(f"{engineer.engineer_id} is {why}; give a scheduled_window", field="scheduled_window")
    return slot


def assign(
    job: Job,
    engineer: EngineerProfile,
    start: datetime,
    end: datetime,
    day: date,
    mode: AssignmentMode,
    reason: str,
    now: datetime,
    assigned_by: StaffMember | None = None,
) -> tuple[Job, JobAssigned]:
    """Assign (or reassign) the job to `engineer` for the visit from `start` to `end`, booked against
    the engineer's local `day`; job.assigned names the engineer replaced."""
    matched = list(skills_matching(engineer, job.equipment.compressor_type.value, job.equipment.brand))
    chosen = Engineer(engineer_id=engineer.engineer_id, name=engineer.name)
    after = job.model_copy(
        update={
            "status": JobStatus.ASSIGNED if job.status == JobStatus.UNASSIGNED else job.status,
            "engineer": chosen,
            "scheduled_window": Window(start=start, end=end),
            "booking_day": day.isoformat(),
            "matched_skills": matched,
            "assignment_mode": mode,
            "assignment_revision": job.assignment_revision + 1,
            "reason": reason,
            "updated_at": now,
        }
    )
    event = JobAssigned(
        job_id=job.job_id,
        engineer=chosen,
        mode=mode,
        scheduled_window=TimeWindow(start=start, end=end),
        matched_skills=matched,
        region=job.site.region,
        reason=reason,
        assigned_by=assigned_by,
        previous_engineer=job.engineer,
        priority=job.priority,
        equipment=job.equipment,
        site=job.site,
        fault_description=job.fault_description,
    )
    return after, event


def cancelled(job: Job, reason: str, now: datetime) -> Job:
    return job.model_copy(
        update={"status": JobStatus.CANCELLED, "cancelled_at": now, "cancel_reason": reason, "updated_at": now}
    )
