"""Registered devices (pure, no I/O): which machine a controller or gateway reports for, the service
levels counted for it, and when each level comes due."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from compressor_contracts.common import Identifier, RunningHours, ShortText
from compressor_contracts.events.telemetry import DueBy
from telemetry_service.modbus.domain import ModbusAddress


class ServiceLevelInterval(BaseModel):
    """One service level of a model, from the equipment catalogue: due every `hours` running hours or
    every `months` months, whichever comes first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: ShortText = Field(description="The maker's name for the level, e.g. 'A'.")
    hours: int = Field(gt=0, le=100_000, description="Running hours between services at this level.")
    months: int = Field(gt=0, le=120, description="Months between services at this level, whatever the hours.")


DEVICE_EXAMPLE: dict[str, Any] = {
    "device_id": "DEV-7781-GW1",
    "equipment_id": "EQ-7781",
    "gateway_id": "GW-SHAHALAM-2",
    "controller_family": "elektronikon",
    "service_levels": [{"level": "A", "hours": 4000, "months": 12}],
    "last_service_on": "2026-03-03",
    "last_service_hours": 23436,
    "registered_at": "2026-03-04T09:00:00Z",
}


class Device(BaseModel):
    """A controller or site gateway registered for one machine. Readings name the device, never the
    machine's serial number: a serial can be typed wrong, a registration is checked once."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [DEVICE_EXAMPLE]})

    device_id: Identifier = Field(description="The device id readings carry.")
    equipment_id: Identifier = Field(description="The machine, by its equipment id in intake's customer file.")
    gateway_id: Identifier | None = Field(
        default=None, description="The site gateway allowed to publish this device's readings over MQTT."
    )
    controller_family: ShortText = Field(description="Register map family for Modbus polling, e.g. 'kaeser-sigma'.")
    modbus: ModbusAddress | None = Field(
        default=None, description="Where the controller answers Modbus TCP, if it is polled (its family's map)."
    )
    service_levels: list[ServiceLevelInterval] = Field(min_length=1, max_length=10)
    last_service_on: date = Field(description="Day of the machine's last service: the calendar counts from it.")
    last_service_hours: RunningHours | None = Field(
        default=None, description="Running hours at the last service: the hour count of each level starts there."
    )
    registered_at: AwareDatetime


@dataclass(frozen=True)
class DuePoint:
    """When one service level of a machine is due."""

    level: str
    due_by: DueBy
    due_at_hours: int | None
    due_on: date
    key: str
    """The same for every reading of this due point: intake raises one request under it."""


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_points(
    device: Device,
    *,
    today: date,
    running_hours: float | None,
    remaining_hours: dict[str, float],
    hours_per_day: float,
) -> list[DuePoint]:
    """Each level's next due point, by running hours or by calendar, whichever comes first.

    The hours a level is due at are the controller's own count when it reports one (`remaining_hours`,
    as Elektronikon and generic controllers do), else the interval counted from the last service. The
    day the hours will be reached is estimated from the machine's recent use (`hours_per_day`)."""
    points = []
    for interval in device.service_levels:
        by_calendar = add_months(device.last_service_on, interval.months)
        due_at_hours: int | None = None
        if running_hours is not None and interval.level in remaining_hours:
            # Rounded once, from the controller's own figures: the same due point reading after reading
            # (its counters move together, in fractions of an hour).
            due_at_hours = round(running_hours + remaining_hours[interval.level])
        elif device.last_service_hours is not None:
            due_at_hours = device.last_service_hours + interval.hours
        by_hours: date | None = None
        if due_at_hours is not None and running_hours is not None:
            days_left = max(due_at_hours - running_hours, 0) / max(hours_per_day, 0.1)
            by_hours = today + timedelta(days=min(days_left, 36_500))
        # One key per machine, level and service cycle, however the estimate moves between the hours
        # and the calendar: a new cycle starts with a recorded service or a controller's reset count.
        key = f"{device.equipment_id}:{interval.level}:{device.last_service_on.isoformat()}:{due_at_hours or 0}"
        if by_hours is not None and by_hours <= by_calendar:
            points.append(DuePoint(interval.level, DueBy.RUNNING_HOURS, due_at_hours, by_hours, key))
        else:
            points.append(DuePoint(interval.level, DueBy.CALENDAR, due_at_hours, by_calendar, key))
    return points


def comes_due(point: DuePoint, today: date, lead_days: int) -> bool:
    """Within the lead time before the level is due (or past it), so dispatch can plan the visit."""
    return point.due_on <= today + timedelta(days=lead_days)
