"""Requests the machines raise themselves (pure, no I/O): what a service coming due or a controller
alarm asks for, and how urgently."""

from __future__ import annotations

from datetime import date

from compressor_contracts import Priority
from compressor_contracts.events.telemetry import AlarmSeverity, DueBy, EquipmentAlarmRaised, EquipmentServiceCameDue


def service_due_text(due: EquipmentServiceCameDue) -> str:
    by = (
        f"at {due.due_at_hours} running hours (now {due.running_hours})"
        if due.due_by is DueBy.RUNNING_HOURS
        else "by the calendar"
    )
    return f"Service level {due.service_level} due {by}, on {due.due_on.isoformat()}: reported by the controller."


def service_due_priority(due: EquipmentServiceCameDue, today: date) -> Priority:
    """Normal once due, low while it is only coming up (as the calendar scheduler does)."""
    return Priority.NORMAL if due.due_on <= today else Priority.LOW


def alarm_text(alarm: EquipmentAlarmRaised) -> str:
    kind = "stopped the machine" if alarm.severity is AlarmSeverity.SHUTDOWN else "persists"
    return f"Controller alarm {alarm.alarm_code} {kind}: {alarm.description} (since {alarm.raised_at.isoformat()})."


def alarm_priority(alarm: EquipmentAlarmRaised) -> Priority:
    """A shutdown stops the customer's compressed air: critical. A warning that persisted comes before
    a shutdown: high."""
    return Priority.CRITICAL if alarm.severity is AlarmSeverity.SHUTDOWN else Priority.HIGH


def service_due_period(due: EquipmentServiceCameDue) -> str:
    """One request per machine, level and due point, however often telemetry says so."""
    return f"telemetry:{due.due_key}"


def alarm_period(alarm: EquipmentAlarmRaised) -> str:
    return f"alarm:{alarm.equipment_id}:{alarm.episode_id}"
