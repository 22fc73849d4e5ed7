"""The dispatcher's pure rules: who could take a job and why (the matcher's own rules, on what dispatch's
API shows), the engineers' day for the schedule board, and the assignment form as the API's body.

Dispatch's API gives an unassigned job the matcher's reason why nobody matched, but no suggestion. The
console ranks the engineers of `GET /engineers` itself with the rules of dispatch's matcher
(services/dispatch/src/dispatch_service/matching/domain.py): active, covering the site's region, skilled
in the compressor type and trained on the brand; among those, the earliest free slot (a visit of
VISIT_MINUTES in a shift, not on leave, below the daily capacity, past the bookings of `GET /jobs`) that
starts by the job's arrive-by target wins; ties go to fewer jobs booked, then the lower engineer id.
Engineers with a free slot only after the target come next (a manual assignment books the earliest free
slot within MANUAL_HORIZON_DAYS), then the ones not eligible, each with the matcher's reason.
Pure Python: no I/O, time passed in.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from compressor_kit.refusals import FieldIssue, Refusal
from console_service.texts import N_, _, ngettext
from console_service.times import moment, shown, zone_of

# dispatch's defaults (DISPATCH_VISIT_MINUTES, DISPATCH_MANUAL_HORIZON_DAYS), which its API does not show.
VISIT_MINUTES = 120
MANUAL_HORIZON_DAYS = 14
SLOT_GRANULARITY = timedelta(minutes=15)
# The API's limits of a manual assignment (ManualAssignment: Identifier, Text).
ENGINEER_ID_MAX, REASON_MAX = 64, 2000
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
# Jobs that hold no booking: cancelled ones (dispatch frees their slot) and those never scheduled.
NO_BOOKING = frozenset({"cancelled", "unassigned"})
WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"), N_("Sunday"))

SUGGESTED, IN_TIME, LATER, NOT_ELIGIBLE = "suggested", "in_time", "later", "not_eligible"


def _minutes(clock: str) -> int:
    hours, mins = clock.split(":")
    return int(hours) * 60 + int(mins)


@dataclass(frozen=True)
class Engineer:
    """What the rules need of one engineer of `GET /engineers`."""

    engineer_id: str
    name: str
    compressor_types: frozenset[str]
    brands: frozenset[str]  # case-folded, as the matcher compares them
    regions: frozenset[str]
    timezone: str
    shifts: tuple[tuple[int, int, int], ...]  # (weekday, start minute, end minute)
    leave: tuple[tuple[date, date, str | None], ...]
    capacity_per_day: int
    active: bool

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Engineer:
        skills = data.get("skills") or {}
        calendar = data.get("calendar") or {}
        return cls(
            engineer_id=str(data["engineer_id"]),
            name=str(data.get("name") or data["engineer_id"]),
            compressor_types=frozenset(str(t) for t in skills.get("compressor_types") or ()),
            brands=frozenset(str(b).casefold() for b in skills.get("brands") or ()),
            regions=frozenset(str(r) for r in data.get("regions") or ()),
            timezone=str(calendar.get("timezone") or "UTC"),
            shifts=tuple(
                sorted(
                    (int(s["weekday"]), _minutes(s["start"]), _minutes(s["end"])) for s in calendar.get("shifts") or ()
                )
            ),
            leave=tuple(
                (date.fromisoformat(lv["start"]), date.fromisoformat(lv["end"]), lv.get("reason"))
                for lv in calendar.get("leave") or ()
            ),
            capacity_per_day=int(data.get("capacity_per_day") or 1),
            active=bool(data.get("active", True)),
        )

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.timezone)

    def local_day(self, when: datetime) -> date:
        return when.astimezone(self.zone).date()

    def leave_on(self, day: date) -> tuple[date, date, str | None] | None:
        return next((lv for lv in self.leave if lv[0] <= day <= lv[1]), None)

    def shifts_on(self, day: date) -> list[tuple[datetime, datetime]]:
        midnight = datetime.combine(day, time(0), tzinfo=self.zone)
        return [
            (midnight + timedelta(minutes=start), midnight + timedelta(minutes=end))
            for weekday, start, end in self.shifts
            if weekday == day.weekday()
        ]


@dataclass(frozen=True)
class Booking:
    job_id: str
    start: datetime
    end: datetime
    job: Mapping[str, Any] = field(default_factory=dict, compare=False)


Bookings = Mapping[str, Mapping[date, list[Booking]]]


def bookings_of(
    jobs: Iterable[Mapping[str, Any]], engineers: Iterable[Engineer]
) -> dict[str, dict[date, list[Booking]]]:
    """engineer id -> the engineer's local day -> the visits booked (from `GET /jobs`): every job with an
    engineer and a window that is not cancelled, as dispatch keeps the booking until then."""
    by_id = {e.engineer_id: e for e in engineers}
    result: dict[str, dict[date, list[Booking]]] = {}
    for job in jobs:
        engineer = (job.get("engineer") or {}).get("engineer_id")
        window = job.get("scheduled_window") or {}
        start, end = moment(window.get("start")), moment(window.get("end"))
        if job.get("status") in NO_BOOKING or engineer not in by_id or start is None or end is None:
            continue
        day = by_id[engineer].local_day(start)
        result.setdefault(engineer, {}).setdefault(day, []).append(Booking(str(job["job_id"]), start, end, job))
    for days in result.values():
        for booked in days.values():
            booked.sort(key=lambda b: b.start)
    return result


def round_up(when: datetime, step: timedelta = SLOT_GRANULARITY) -> datetime:
    """The next quarter hour at or after `when` (the matcher's slot boundaries)."""
    epoch = datetime(2000, 1, 1, tzinfo=when.tzinfo)
    steps = -((epoch - when) // step)
    return epoch + steps * step


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    day: date


def free_slot(
    engineer: Engineer,
    booked_by_day: Mapping[date, list[Booking]],
    earliest: datetime,
    latest_start: datetime,
    visit: timedelta,
) -> tuple[Slot | None, str]:
    """The engineer's earliest free visit starting in [earliest, latest_start], in a shift, on a day not on
    leave and below capacity (the matcher's free_slot); else None and why not."""
    earliest = round_up(earliest)
    day, last_day = engineer.local_day(earliest), engineer.local_day(latest_start)
    seen_leave = seen_full = seen_shift = False
    while day <= last_day:
        if engineer.leave_on(day):
            seen_leave = True
        else:
            booked = sorted(booked_by_day.get(day, []), key=lambda b: b.start)
            shifts = engineer.shifts_on(day)
            has_room = len(booked) < engineer.capacity_per_day
            if shifts and not has_room:
                seen_full = True
            for shift_start, shift_end in shifts if has_room else []:
                seen_shift = True
                start = max(shift_start, earliest)
                for booking in booked:
                    if booking.end <= start:
                        continue
                    if booking.start >= start + visit:
                        break
                    start = round_up(booking.end)
                if start + visit <= shift_end and start <= latest_start:
                    return Slot(start, start + visit, day), ""
        day += timedelta(days=1)
    target = when_text(latest_start, latest_start.tzinfo)
    if seen_full:
        return None, _(
            "fully booked (capacity %(capacity)s a day) before %(time)s",
            capacity=engineer.capacity_per_day,
            time=target,
        )
    if seen_leave and not seen_shift:
        return None, _("on leave until after %(time)s", time=target)
    return None, _("no free slot in a shift before %(time)s", time=target)


def skill_gaps(engineer: Engineer, compressor_type: str, brand: str) -> list[str]:
    gaps = []
    if compressor_type not in engineer.compressor_types:
        gaps.append(_("not skilled in %(kind)s compressors", kind=compressor_type.replace("_", " ")))
    if brand.casefold() not in engineer.brands:
        gaps.append(_("not trained on the %(brand)s brand", brand=brand))
    return gaps


@dataclass(frozen=True)
class Rank:
    """One engineer for one job: where they stand and why."""

    engineer: Engineer
    standing: str  # SUGGESTED, IN_TIME, LATER or NOT_ELIGIBLE
    slot: Slot | None
    workload: int
    reasons: tuple[str, ...]

    @property
    def eligible(self) -> bool:
        return self.standing != NOT_ELIGIBLE


@dataclass(frozen=True)
class Ranking:
    ranks: list[Rank]
    target: datetime | None

    @property
    def suggestion(self) -> Rank | None:
        return self.ranks[0] if self.ranks and self.ranks[0].eligible else None

    @property
    def eligible(self) -> list[Rank]:
        return [r for r in self.ranks if r.eligible]

    @property
    def not_eligible(self) -> list[Rank]:
        return [r for r in self.ranks if not r.eligible]


def rank(
    job: Mapping[str, Any],
    engineers: Iterable[Engineer],
    bookings: Bookings,
    now: datetime,
    visit: timedelta = timedelta(minutes=VISIT_MINUTES),
    horizon_days: int = MANUAL_HORIZON_DAYS,
) -> Ranking:
    """Every engineer for `job` (a `GET /jobs/...` item), best first, by the matcher's rules; an engineer
    who already has the job is left out (a reassignment goes to someone else)."""
    site, equipment = job.get("site") or {}, job.get("equipment") or {}
    region, kind, brand = (
        str(site.get("region", "")),
        str(equipment.get("compressor_type", "")),
        str(equipment.get("brand", "")),
    )
    requested = moment(job.get("requested_at")) or now
    target = moment(((job.get("sla") or {}).get("arrive_by") or {}).get("due_at"))
    earliest = max(now, requested)
    horizon = now + timedelta(days=horizon_days)
    current = (job.get("engineer") or {}).get("engineer_id")
    in_time: list[tuple[Any, ...]] = []
    later: list[tuple[Any, ...]] = []
    rejected: list[Rank] = []
    for engineer in sorted(engineers, key=lambda e: e.engineer_id):
        if engineer.engineer_id == current:
            continue
        own = bookings.get(engineer.engineer_id, {})
        load = _workload(own, earliest, target or horizon, engineer)
        if not engineer.active:
            rejected.append(Rank(engineer, NOT_ELIGIBLE, None, load, (_("inactive"),)))
            continue
        if region not in engineer.regions:
            rejected.append(
                Rank(engineer, NOT_ELIGIBLE, None, load, (_("does not cover region %(region)s", region=region),))
            )
            continue
        gaps = skill_gaps(engineer, kind, brand)
        if gaps:
            rejected.append(Rank(engineer, NOT_ELIGIBLE, None, load, (_(" and ").join(gaps),)))
            continue
        fits = (
            _("covers region %(region)s", region=region),
            _("skilled in %(kind)s compressors", kind=kind.replace("_", " ")),
            _("trained on %(brand)s", brand=brand),
        )
        slot, why = free_slot(engineer, own, earliest, target, visit) if target else (None, _("no arrive-by target"))
        reasons: tuple[str, ...]
        if slot is not None:
            reasons = (
                *fits,
                _("free at %(time)s, within the target", time=when_text(slot.start, engineer.zone)),
                ngettext("%(num)d job booked", "%(num)d jobs booked", load),
            )
            in_time.append((slot.start, load, engineer.engineer_id, Rank(engineer, IN_TIME, slot, load, reasons)))
            continue
        slot, later_why = free_slot(engineer, own, earliest, horizon, visit)
        if slot is not None:
            reasons = (
                *fits,
                why,
                _("earliest free slot %(time)s", time=when_text(slot.start, engineer.zone)),
                ngettext("%(num)d job booked", "%(num)d jobs booked", load),
            )
            later.append((slot.start, load, engineer.engineer_id, Rank(engineer, LATER, slot, load, reasons)))
        else:
            rejected.append(Rank(engineer, NOT_ELIGIBLE, None, load, (*fits, later_why)))
    ranks = [r[-1] for r in sorted(in_time, key=lambda r: r[:3])] + [r[-1] for r in sorted(later, key=lambda r: r[:3])]
    if ranks:
        first = ranks[0]
        ranks[0] = Rank(first.engineer, SUGGESTED, first.slot, first.workload, first.reasons)
    return Ranking(ranks + rejected, target)


def _workload(own: Mapping[date, list[Booking]], start: datetime, end: datetime, engineer: Engineer) -> int:
    """Jobs booked from the day before `start` to the day after `end` (the days the matcher reads)."""
    first, last = engineer.local_day(start) - timedelta(days=1), engineer.local_day(end) + timedelta(days=1)
    return sum(len(booked) for day, booked in own.items() if first <= day <= last)


def when_text(when: datetime, zone: tzinfo | None = None) -> str:
    """`Tue 14 Jan 14:00 +08` in `zone` (the engineer's or the office's)."""
    local = when.astimezone(zone) if zone is not None else when
    offset = local.strftime("%z")
    label = (
        "UTC" if offset in ("+0000", "") else (offset[:3] if offset.endswith("00") else f"{offset[:3]}:{offset[3:]}")
    )
    return f"{shown(local, 'EEE dd MMM HH:mm', local.tzinfo)} {label}"


def office_zone(engineers: Iterable[Engineer]) -> ZoneInfo:
    """The zone most engineers work in (the schedule's days and the queue's times); UTC with none."""
    zones = Counter(e.timezone for e in engineers)
    return zone_of(zones.most_common(1)[0][0]) if zones else ZoneInfo("UTC")


# --- the schedule board ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineerDay:
    engineer: Engineer
    day: date
    shifts: list[tuple[datetime, datetime]]
    leave: tuple[date, date, str | None] | None
    booked: list[Booking]

    @property
    def capacity(self) -> int:
        return 0 if self.leave or not self.shifts else self.engineer.capacity_per_day

    @property
    def free(self) -> int:
        return max(self.capacity - len(self.booked), 0)

    @property
    def state(self) -> str:
        if not self.engineer.active:
            return "inactive"
        if self.leave:
            return "on leave"
        if not self.shifts:
            return "off"
        if self.free == 0:
            return "full"
        return "working"

    @property
    def shift_text(self) -> str:
        return ", ".join(
            _("%(start)s to %(end)s", start=start.strftime("%H:%M"), end=_clock_end(start, end))
            for start, end in self.shifts
        )


def _clock_end(start: datetime, end: datetime) -> str:
    return "24:00" if end.date() > start.date() else f"{end:%H:%M}"


def schedule(day: date, engineers: Iterable[Engineer], bookings: Bookings) -> list[EngineerDay]:
    """Each engineer's `day` (their local day, as dispatch books against it): shifts, leave, the jobs
    booked and the capacity left."""
    return [
        EngineerDay(e, day, e.shifts_on(day), e.leave_on(day), list(bookings.get(e.engineer_id, {}).get(day, [])))
        for e in sorted(engineers, key=lambda e: e.engineer_id)
    ]


def day_of(text: str | None, today: date) -> date:
    """The schedule's day from `?day=YYYY-MM-DD`; today when absent, refused when not a date."""
    if not text:
        return today
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Refusal.invalid(_("“%(text)s” is not a day (YYYY-MM-DD)", text=text), field="day") from None


# --- the assignment form -------------------------------------------------------------------------


def assignment_body(form: Mapping[str, str], engineers: Mapping[str, Engineer]) -> dict[str, Any]:
    """The form as `POST /jobs/{job_id}/assignment`'s body. The visit window is optional (both ends or
    neither), typed as the engineer's local time; the rest the API itself checks (names and limits)."""
    body: dict[str, Any] = {"engineer_id": form.get("engineer_id", "").strip(), "reason": form.get("reason", "")}
    start_text = form.get("scheduled_window.start", "").strip()
    end_text = form.get("scheduled_window.end", "").strip()
    if not start_text and not end_text:
        return body
    engineer = engineers.get(body["engineer_id"])
    zone = engineer.zone if engineer else ZoneInfo("UTC")
    issues = []
    if not start_text:
        issues.append(FieldIssue("scheduled_window.start", _("give the visit's start too, or neither")))
    if not end_text:
        issues.append(FieldIssue("scheduled_window.end", _("give the visit's end too, or neither")))
    parsed: dict[str, datetime] = {}
    for name, text in (("start", start_text), ("end", end_text)):
        if not text:
            continue
        try:
            parsed[name] = datetime.fromisoformat(text).replace(tzinfo=zone)
        except ValueError:
            issues.append(FieldIssue(f"scheduled_window.{name}", _("“%(text)s” is not a date and time", text=text)))
    if issues:
        raise Refusal.invalid(issues[0].message, issues=issues)
    body["scheduled_window"] = {name: value.isoformat() for name, value in parsed.items()}
    return body
