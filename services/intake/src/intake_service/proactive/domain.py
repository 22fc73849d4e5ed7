"""Proactive maintenance (pure, no I/O): when a unit is due for service and which due period a
request belongs to, so that each period raises exactly one request."""

from __future__ import annotations

from datetime import date, timedelta

from compressor_contracts import Priority
from intake_service.customer_file.domain import FollowUpVisit, UnitOnFile


def is_due(unit: UnitOnFile, today: date, lead_days: int) -> bool:
    """Due by the calendar (within the lead time) or by the hour meter."""
    return unit.next_service_due_on <= today + timedelta(days=lead_days) or overdue_by_hours(unit)


def overdue_by_hours(unit: UnitOnFile) -> bool:
    hours, due_at = unit.running_hours, unit.next_service_due_at_hours
    return hours is not None and due_at is not None and hours >= due_at


def due_period(unit: UnitOnFile) -> str:
    """The service period the unit is due for: its id and the due date and hours. These only change
    when a service is recorded, so every scan of one period names it the same way."""
    hours = unit.next_service_due_at_hours
    suffix = f"/{hours}h" if hours is not None else ""
    return f"{unit.equipment_id}:{unit.next_service_due_on.isoformat()}{suffix}"


def proactive_priority(unit: UnitOnFile, today: date) -> Priority:
    """Normal once overdue (date passed or hours reached), low while it is only coming up."""
    overdue = unit.next_service_due_on < today or overdue_by_hours(unit)
    return Priority.NORMAL if overdue else Priority.LOW


def is_visit_due(visit: FollowUpVisit, today: date, lead_days: int) -> bool:
    return visit.job_id is None and visit.due_on <= today + timedelta(days=lead_days)


def follow_up_period(visit: FollowUpVisit) -> str:
    return f"{visit.equipment_id}:follow-up:{visit.follow_up_id}"


def follow_up_text(visit: FollowUpVisit) -> str:
    return f"Follow-up visit after job {visit.source_job_id}, due {visit.due_on.isoformat()}: {visit.description}"


def follow_up_priority(visit: FollowUpVisit, today: date) -> Priority:
    """Normal once the agreed date has passed, low while it is coming up."""
    return Priority.NORMAL if visit.due_on < today else Priority.LOW
