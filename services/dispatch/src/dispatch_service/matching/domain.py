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

from dispatch_service.engineers.domain import EngineerProfile

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
