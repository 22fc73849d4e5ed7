"""Readings (pure, no I/O): what a controller reports, and whether a reading is taken in.

Bad input never stops the stream: every reading is either accepted or rejected with one of the
`RejectionReason`s, which is counted and recorded for an admin to see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from compressor_contracts.common import Identifier, ShortText
from compressor_contracts.events.telemetry import ReadingSummary


class RejectionReason(StrEnum):
    MALFORMED = "malformed"
    """Not a reading at all: not JSON, or a field of the wrong type or missing."""
    UNKNOWN_DEVICE = "unknown_device"
    OUT_OF_RANGE = "out_of_range"
    """A value no controller of a working machine reports (a temperature of 900 °C, say)."""
    COUNTER_BACKWARDS = "counter_backwards"
    """Running or loaded hours lower than the last reading's, and not a controller reset."""
    FROM_THE_FUTURE = "from_the_future"
    TOO_OLD = "too_old"
    DUPLICATE = "duplicate"
    """Taken in before (an MQTT QoS 1 redelivery, an export uploaded twice): absorbed, not stored again."""
    WRONG_GATEWAY = "wrong_gateway"
    """A gateway published for a device registered to another gateway."""


class Reading(BaseModel):
    """One reading as a controller or gateway sends it (MQTT payload, one row of an upload, a poll)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device_id: Identifier
    read_at: AwareDatetime
    running_hours: float | None = Field(default=None, description="Hour meter: hours the motor ran.")
    loaded_hours: float | None = Field(default=None, description="Hours run loaded.")
    remaining_hours: dict[ShortText, float] = Field(
        default_factory=dict,
        description="Hours left per service level, as the controller counts them, e.g. {'A': 412}.",
    )
    discharge_pressure_bar: float | None = None
    element_outlet_temperature_c: float | None = None
    alarms: list[ShortText] = Field(default_factory=list, max_length=20)
    warnings: list[ShortText] = Field(default_factory=list, max_length=20)
    heartbeat: int | None = Field(default=None, description="The controller's heartbeat counter, if it sends one.")

    @field_validator("read_at")
    @classmethod
    def _whole_milliseconds(cls, read_at: datetime) -> datetime:
        # MongoDB keeps milliseconds: a reading compares equal to itself as stored and read back.
        return read_at.replace(microsecond=read_at.microsecond // 1000 * 1000)

    def summary(self) -> ReadingSummary:
        return ReadingSummary(
            read_at=self.read_at,
            running_hours=_hours(self.running_hours),
            loaded_hours=_hours(self.loaded_hours),
            discharge_pressure_bar=self.discharge_pressure_bar,
            element_outlet_temperature_c=self.element_outlet_temperature_c,
            alarms=list(self.alarms),
            warnings=list(self.warnings),
        )


def _hours(value: float | None) -> int | None:
    return None if value is None else int(value)


# Physical limits of what a working compressor's controller reports; beyond them the value is a fault
# of the sensor or the transmission, never a state of the machine to act on.
RANGES: dict[str, tuple[float, float]] = {
    "running_hours": (0, 1_000_000),
    "loaded_hours": (0, 1_000_000),
    "discharge_pressure_bar": (0, 60),
    "element_outlet_temperature_c": (-40, 200),
}
REMAINING_HOURS_RANGE = (-100_000, 100_000)  # negative: overdue, as Elektronikon counts

# A controller whose hour meter restarted (a replaced or reset controller) reports small counters again.
RESET_BELOW_HOURS = 48


@dataclass(frozen=True)
class LastReading:
    """What the device's last accepted reading said, to judge the next one against."""

    read_at: datetime
    running_hours: float | None
    loaded_hours: float | None


# read_at values kept per device to recognise a redelivered reading at once (an older one is looked up
# among the stored readings): a broker hands over again what was not acknowledged, a device's latest.
RECENT_KEPT = 8
ANCHOR_DAYS = 14  # the reading recent use (hours per day) is measured from is renewed this often


@dataclass(frozen=True)
class DeviceState:
    """What was taken in from one device: its last read_at values, its last reading and the anchor,
    an earlier reading recent use is measured from. Times are aware and whole milliseconds, as MongoDB
    keeps them and as `Reading` takes them in, so that the same instant compares equal."""

    recent: tuple[datetime, ...] = ()
    last: LastReading | None = None
    anchor: LastReading | None = None

    def has(self, read_at: datetime) -> bool:
        return read_at in self.recent

    def is_later(self, read_at: datetime) -> bool:
        """At or after the last reading: a reading that says what is due or alarming now."""
        return self.last is None or read_at >= self.last.read_at

    def taking(self, reading: Reading) -> DeviceState:
        """The state once `reading` is taken in. The last reading moves only forward in time (a late
        reading changes nothing but `recent`); the anchor is renewed once it is a fortnight old."""
        snapshot = LastReading(reading.read_at, reading.running_hours, reading.loaded_hours)
        recent = (*self.recent, reading.read_at)[-RECENT_KEPT:]
        if self.last is not None and reading.read_at <= self.last.read_at:
            return DeviceState(recent, self.last, self.anchor)
        anchor = self.anchor
        if anchor is None:
            anchor = snapshot
        elif reading.read_at - anchor.read_at > timedelta(days=ANCHOR_DAYS):
            anchor = self.last  # the old last reading: use is measured over the last fortnight or so
        return DeviceState(recent, snapshot, anchor)


@dataclass(frozen=True)
class Rejected:
    reason: RejectionReason
    detail: str
    field: str | None = None


@dataclass(frozen=True)
class Accepted:
    reading: Reading
    controller_reset: bool = False
    """The hour counters went back to near zero: a controller reset, taken in and recorded as such."""


@dataclass(frozen=True)
class Window:
    """How far from now a reading's time may be."""

    future: timedelta = timedelta(minutes=5)
    past: timedelta = timedelta(days=30)


def parse(payload: bytes | str | dict[str, Any]) -> Reading | Rejected:
    """A reading from its JSON form, or why it is not one."""
    try:
        if isinstance(payload, bytes | str):
            return Reading.model_validate_json(payload)  # parsed and validated in one pass, in Rust
        return Reading.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        detail = f"{field}: {first['msg']}" if field else first["msg"]
        return Rejected(RejectionReason.MALFORMED, detail[:300], field)


def assess(reading: Reading, last: LastReading | None, now: datetime, window: Window = Window()) -> Accepted | Rejected:
    """Take the reading in, or say why not. Duplicates and unknown devices are judged by the store,
    which knows what was taken in before."""
    if reading.read_at > now + window.future:
        return Rejected(
            RejectionReason.FROM_THE_FUTURE, f"read at {reading.read_at.isoformat()}, later than now", "read_at"
        )
    if reading.read_at < now - window.past:
        return Rejected(
            RejectionReason.TOO_OLD, f"read at {reading.read_at.isoformat()}, too far in the past", "read_at"
        )
    for name, (low, high) in RANGES.items():
        value = getattr(reading, name)
        if value is not None and not low <= value <= high:
            return Rejected(RejectionReason.OUT_OF_RANGE, f"{name} {value} is outside {low}..{high}", name)
    for level, hours in reading.remaining_hours.items():
        if not REMAINING_HOURS_RANGE[0] <= hours <= REMAINING_HOURS_RANGE[1]:
            return Rejected(
                RejectionReason.OUT_OF_RANGE, f"remaining hours of {level} {hours}", f"remaining_hours.{level}"
            )
    if last is None or reading.read_at < last.read_at:
        return Accepted(reading)  # the first, or a late one: its neighbours are not known here
    went_back = [
        name
        for name in ("running_hours", "loaded_hours")
        if getattr(reading, name) is not None
        and getattr(last, name) is not None
        and getattr(reading, name) < getattr(last, name)
    ]
    if not went_back:
        return Accepted(reading)
    if reading.running_hours is not None and reading.running_hours < RESET_BELOW_HOURS:
        return Accepted(reading, controller_reset=True)
    name = went_back[0]
    return Rejected(
        RejectionReason.COUNTER_BACKWARDS,
        f"{name} {getattr(reading, name)} is below the last reading's {getattr(last, name)}",
        name,
    )


def hours_per_day(earlier: LastReading | None, reading: Reading, default: float) -> float:
    """The machine's recent use, from two readings' hour meters (the default without them)."""
    if earlier is None or earlier.running_hours is None or reading.running_hours is None:
        return default
    days = (reading.read_at - earlier.read_at).total_seconds() / 86_400
    if days < 1:
        return default
    return max(0.0, min(24.0, (reading.running_hours - earlier.running_hours) / days))
