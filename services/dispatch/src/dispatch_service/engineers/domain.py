"""Engineers as dispatch knows them: skills, regions, working calendar and capacity. Pure Python.

`EngineerRecord` is an engineer as dispatchers and admins record them (and as the seed file lists
them); `EngineerProfile` is the plain value the matching rules work on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from compressor_contracts import CompressorType
from compressor_contracts.common import Email, Identifier, Phone, ShortText

ENGINEER_ID = re.compile(r"^ENG-\d{3,6}$")

ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
ShiftEnd = Annotated[str, StringConstraints(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Shift(Strict):
    """A weekly working shift in the engineer's time zone; '24:00' ends at midnight."""

    weekday: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday.")
    start: ClockTime = Field(description="Local start, HH:MM.")
    end: ShiftEnd = Field(description="Local end, HH:MM (24:00 allowed), after start.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if minutes(self.end) <= minutes(self.start):
            raise ValueError("a shift must end after it starts")
        return self


class Leave(Strict):
    """Days off, both ends included, in the engineer's time zone."""

    start: date = Field(description="First day of leave.")
    end: date = Field(description="Last day of leave (inclusive), not before start.")
    reason: ShortText | None = Field(default=None, description="e.g. 'annual leave', 'training'.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError("leave must not end before it starts")
        return self


class Calendar(Strict):
    timezone: str = Field(
        default="UTC", max_length=64, description="IANA time zone of the shifts, e.g. 'Asia/Kuala_Lumpur'."
    )
    shifts: list[Shift] = Field(min_length=1, max_length=50, description="Weekly shifts.")
    leave: list[Leave] = Field(default=[], max_length=200, description="Leave periods.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class Skills(Strict):
    compressor_types: list[CompressorType] = Field(min_length=1, max_length=5, description="Technologies serviced.")
    brands: list[ShortText] = Field(min_length=1, max_length=50, description="Brands trained on, e.g. 'Atlas Copco'.")
    certifications: list[ShortText] = Field(default=[], max_length=50, description="e.g. 'DOSH competent person'.")


class EngineerData(Strict):
    """An engineer as a dispatcher or admin records them."""

    name: ShortText = Field(description="Full name.")
    phone: Phone | None = Field(default=None, description="E.164 phone number.")
    email: Email | None = Field(default=None, description="E-mail address.")
    skills: Skills
    regions: list[Identifier] = Field(min_length=1, max_length=50, description="Service regions covered.")
    calendar: Calendar
    capacity_per_day: int = Field(ge=1, le=24, description="Most jobs the engineer takes on one (local) day.")
    active: bool = Field(default=True, description="Inactive engineers are never matched.")


class EngineerRecord(EngineerData):
    """A registered engineer: the id dispatch issued (ENG-nnn), also the engineer's token subject."""

    engineer_id: str = Field(pattern=ENGINEER_ID.pattern)


def minutes(clock_time: str) -> int:
    hours, mins = clock_time.split(":")
    return int(hours) * 60 + int(mins)


def engineer_number(engineer_id: str) -> int:
    return int(engineer_id.split("-", 1)[1])


def format_engineer_id(number: int) -> str:
    return f"ENG-{number:03d}"


@dataclass(frozen=True)
class EngineerProfile:
    """What matching needs to know of an engineer."""

    engineer_id: str
    name: str
    compressor_types: frozenset[str]
    brands: frozenset[str]  # case-folded
    certifications: tuple[str, ...]
    regions: frozenset[str]
    timezone: str
    shifts: tuple[tuple[int, int, int], ...]  # (weekday, start minute, end minute)
    leave: tuple[tuple[date, date], ...]
    capacity_per_day: int
    active: bool

    @classmethod
    def of(cls, engineer: EngineerRecord) -> EngineerProfile:
        calendar = engineer.calendar
        return cls(
            engineer_id=engineer.engineer_id,
            name=engineer.name,
            compressor_types=frozenset(t.value for t in engineer.skills.compressor_types),
            brands=frozenset(b.casefold() for b in engineer.skills.brands),
            certifications=tuple(engineer.skills.certifications),
            regions=frozenset(engineer.regions),
            timezone=calendar.timezone,
            shifts=tuple(sorted((s.weekday, minutes(s.start), minutes(s.end)) for s in calendar.shifts)),
            leave=tuple((lv.start, lv.end) for lv in calendar.leave),
            capacity_per_day=engineer.capacity_per_day,
            active=engineer.active,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def on_leave(self, day: date) -> bool:
        return any(start <= day <= end for start, end in self.leave)

    def shifts_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The engineer's working intervals on a local day, as aware datetimes."""
        zone = self.zone
        midnight = datetime.combine(day, time(0), tzinfo=zone)
        return [
            (midnight + timedelta(minutes=start), midnight + timedelta(minutes=end))
            for weekday, start, end in self.shifts
            if weekday == day.weekday()
        ]

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()
