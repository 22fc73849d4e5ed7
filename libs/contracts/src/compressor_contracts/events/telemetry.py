"""Events published by telemetry: what the compressors' own controllers say that needs a person
(phase 1 starts from them: a service coming due, an alarm, a machine gone silent)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from compressor_contracts.common import ContractModel, Identifier, RunningHours, ShortText
from compressor_contracts.envelope import EventData

ServiceLevel = ShortText
"""A maker's service level, e.g. 'A', 'B', 'C' (Elektronikon) or 'oil change' (generic controllers)."""


class DueBy(StrEnum):
    RUNNING_HOURS = "running_hours"
    CALENDAR = "calendar"


class AlarmSeverity(StrEnum):
    SHUTDOWN = "shutdown"
    """The controller stopped the machine."""
    WARNING = "warning"
    """The machine runs on, out of its normal range; raised only once the warning persisted."""


class ReadingSummary(ContractModel):
    """One controller reading, as the engineer's remote pre-diagnosis reads it."""

    read_at: AwareDatetime = Field(description="When the controller took the reading.")
    running_hours: RunningHours | None = Field(default=None, description="Running hours (hour meter).")
    loaded_hours: RunningHours | None = Field(default=None, description="Hours run loaded.")
    discharge_pressure_bar: float | None = Field(default=None, ge=0, le=100, description="Discharge pressure, bar(e).")
    element_outlet_temperature_c: float | None = Field(
        default=None, ge=-40, le=200, description="Element (airend) outlet temperature, °C."
    )
    alarms: list[ShortText] = Field(default=[], max_length=20, description="Alarm codes active at the reading.")
    warnings: list[ShortText] = Field(default=[], max_length=20, description="Warning codes active at the reading.")


class TelemetryEventData(EventData):
    """Base of every telemetry event: about one machine, whose equipment id is the envelope subject."""

    subject_field: ClassVar[str] = "equipment_id"

    equipment_id: Identifier = Field(description="The machine, by its equipment id in intake's customer file.")
    device_id: Identifier = Field(description="The registered controller or gateway device that reported it.")


class EquipmentServiceCameDue(TelemetryEventData):
    """A service level of a machine comes due within the lead time, by running hours or by calendar,
    whichever is first. Intake raises exactly one proactive request per machine, level and due point."""

    name: ClassVar[str] = "equipment.service_came_due"
    producer: ClassVar[str] = "telemetry"
    phase: ClassVar[int | None] = 1

    service_level: ServiceLevel = Field(description="The level that comes due, e.g. 'A'.")
    due_by: DueBy = Field(description="Which comes first: the running hours or the calendar.")
    due_at_hours: RunningHours | None = Field(
        default=None, description="Running hours at which the level is due; null when only the calendar counts."
    )
    due_on: date = Field(description="The day it is due: by calendar, or as the hours are expected to reach it.")
    running_hours: RunningHours | None = Field(default=None, description="Running hours at the last reading.")
    due_key: Identifier = Field(
        description="Names this due point, the same for every reading of it, e.g. 'EQ-7781:A:24000h': "
        "the key intake raises one request under."
    )
    recent_readings: list[ReadingSummary] = Field(
        default=[], max_length=48, description="The machine's readings since the last service, at most 48."
    )


class EquipmentAlarmRaised(TelemetryEventData):
    """A controller alarm that needs a visit: a shutdown at once, a warning once it persisted past the
    grace period. One event per episode, however often the alarm flaps."""

    name: ClassVar[str] = "equipment.alarm_raised"
    producer: ClassVar[str] = "telemetry"
    phase: ClassVar[int | None] = 1

    alarm_code: ShortText = Field(description="The controller's alarm or warning code.")
    severity: AlarmSeverity = Field(description="Shutdown, or a persisting warning.")
    description: ShortText = Field(description="What the code means, in the register map's words.")
    raised_at: AwareDatetime = Field(description="When the controller first reported it in this episode.")
    episode_id: Identifier = Field(description="The alarm episode: the key intake raises one request under.")
    recent_readings: list[ReadingSummary] = Field(
        default=[], max_length=48, description="The machine's readings around the alarm, at most 48."
    )


class EquipmentWentSilent(TelemetryEventData):
    """A machine's device has sent nothing for the configured number of days: its gateway may be down,
    and the machine runs unwatched. Once per silence: a reading ends it, and the next silence is a new one."""

    name: ClassVar[str] = "equipment.went_silent"
    producer: ClassVar[str] = "telemetry"
    phase: ClassVar[int | None] = 1

    last_reading_at: AwareDatetime | None = Field(
        description="When the device's last reading was taken; null when it never sent one (counted from its "
        "registration)."
    )
    silent_days: int = Field(ge=0, le=36_500, description="Whole days since the last reading (or the registration).")
