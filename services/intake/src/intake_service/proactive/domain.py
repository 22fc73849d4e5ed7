"""Proactive maintenance (pure, no I/O): when a unit is due for service and which due period a
request belongs to, so that each period raises exactly one request."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from compressor_contracts import Priority

Doc = dict[str, Any]


def due_query(today: date, lead_days: int) -> Doc:
    """Equipment due by the calendar (within the lead time) or by its hour meter."""
    return {
        "$or": [
            {"next_service_due_on": {"$lte": (today + timedelta(days=lead_days)).isoformat()}},
            {
                "$expr": {
                    "$and": [
                        # Numbers sort after null in BSON: these guard against unknown hours.
                        {"$gt": ["$running_hours", None]},
                        {"$gt": ["$next_service_due_at_hours", None]},
                        {"$gte": ["$running_hours", "$next_service_due_at_hours"]},
                    ]
                }
            },
        ]
    }


def is_due(equipment: Doc, today: date, lead_days: int) -> bool:
    by_date = equipment["next_service_due_on"] <= (today + timedelta(days=lead_days)).isoformat()
    return by_date or overdue_by_hours(equipment)


def overdue_by_hours(equipment: Doc) -> bool:
    hours, due_at = equipment.get("running_hours"), equipment.get("next_service_due_at_hours")
    return hours is not None and due_at is not None and hours >= due_at


def due_period(equipment: Doc) -> str:
    """The service period the unit is due for: its id and the due date and hours. These only change
    when a service is recorded, so every scan of one period names it the same way."""
    hours = equipment.get("next_service_due_at_hours")
    suffix = f"/{hours}h" if hours is not None else ""
    return f"{equipment['_id']}:{equipment['next_service_due_on']}{suffix}"


def proactive_priority(equipment: Doc, today: date) -> Priority:
    """Normal once overdue (date passed or hours reached), low while it is only coming up."""
    overdue = equipment["next_service_due_on"] < today.isoformat() or overdue_by_hours(equipment)
    return Priority.NORMAL if overdue else Priority.LOW


def follow_ups_due_query(today: date, lead_days: int) -> Doc:
    """Planned follow-up visits within the lead time that no request was raised for yet."""
    return {"due_on": {"$lte": (today + timedelta(days=lead_days)).isoformat()}, "job_id": {"$exists": False}}


def follow_up_period(visit: Doc) -> str:
    return f"{visit['equipment_id']}:follow-up:{visit['_id']}"


def follow_up_text(visit: Doc) -> str:
    return f"Follow-up visit after job {visit['source_job_id']}, due {visit['due_on']}: {visit['description']}"
