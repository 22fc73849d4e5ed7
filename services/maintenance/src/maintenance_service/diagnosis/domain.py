"""Phase 3: arrival on site and the diagnosis. Pure: no I/O."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from compressor_contracts.common import FailureCategory, Measurement, RunningHours
from compressor_contracts.events.maintenance import JobDiagnosed, JobEngineerArrived
from compressor_kit.refusals import Refusal
from maintenance_service.work_orders.domain import Diagnosis, PhotoUpload, Status, WorkOrder

PHOTO_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/heic": "heic", "image/webp": "webp"}
MAX_PHOTO_BYTES = 20 * 1024 * 1024
"""A phone's photo is a few MB; the upload form and the acceptance check both hold it to this."""


class DiagnosisDraft(BaseModel):
    """What the engineer found on site."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "measurements": [
                        {"name": "Discharge temperature", "value": 109.5, "unit": "°C", "instrument": "Fluke 54 II"}
                    ],
                    "root_cause": "Thermostatic valve element stuck open; oil bypasses the cooler.",
                    "scope": "Oil circuit: thermostatic valve and oil filter.",
                    "failure_category": "cooling",
                    "running_hours": 23410,
                    "photo_keys": ["JOB-2026-000042/diagnosis/3f9a1c2b7d4e-valve.jpg"],
                }
            ]
        },
    )

    measurements: list[Measurement] = Field(min_length=1, max_length=200, description="Instrument readings.")
    root_cause: str = Field(min_length=1, max_length=2000)
    scope: str = Field(min_length=1, max_length=2000, description="Affected components and consequences.")
    failure_category: FailureCategory
    running_hours: RunningHours | None = Field(default=None, ge=0, le=1_000_000)
    photo_keys: list[Annotated[str, StringConstraints(max_length=1024)]] = Field(
        default=[], max_length=50, description="Keys of photos uploaded for this job."
    )


def arrive(order: WorkOrder, user_id: str, now: datetime) -> tuple[WorkOrder, JobEngineerArrived]:
    order.require_status({Status.OPEN}, "record the arrival")
    engineer = order.require_engineer(user_id)
    updated = order.model_copy(update={"status": Status.ON_SITE, "arrived_at": now})
    return updated, JobEngineerArrived(job_id=order.job_id, engineer=engineer, arrived_at=now)


def photo_key(job_id: str, file_name: str, content_type: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", file_name.rsplit(".", 1)[0]).strip("-.")[:60] or "photo"
    return f"{job_id}/diagnosis/{uuid.uuid4().hex[:12]}-{stem}.{PHOTO_TYPES[content_type]}"


def issue_photo_upload(
    order: WorkOrder, user_id: str, file_name: str, content_type: str, now: datetime
) -> tuple[WorkOrder, PhotoUpload]:
    order.require_status({Status.ON_SITE}, "upload diagnosis photos")
    order.require_engineer(user_id)
    if content_type not in PHOTO_TYPES:
        raise Refusal.invalid(f"photos must be one of {', '.join(PHOTO_TYPES)}", field="content_type")
    if len(order.photo_uploads) >= 50:
        raise Refusal.invalid("at most 50 photos per diagnosis", field="file_name")
    upload = PhotoUpload(
        photo_key=photo_key(order.job_id, file_name, content_type),
        file_name=file_name,
        content_type=content_type,
        issued_at=now,
    )
    return order.model_copy(update={"photo_uploads": [*order.photo_uploads, upload]}), upload


def may_diagnose(order: WorkOrder, user_id: str) -> None:
    """Checked before any photo is taken from the object store, and again in `diagnose`."""
    order.require_status({Status.ON_SITE}, "record the diagnosis")
    order.require_engineer(user_id)


def diagnose(
    order: WorkOrder,
    user_id: str,
    draft: DiagnosisDraft,
    stored_photos: set[str],
    now: datetime,
    refused_photos: Mapping[str, str] | None = None,
) -> tuple[WorkOrder, JobDiagnosed]:
    """`stored_photos`: the drafted keys accepted from the object store (checked there: size and type);
    `refused_photos`: why the store's check refused others."""
    may_diagnose(order, user_id)
    engineer = order.require_engineer(user_id)
    issued = {u.photo_key for u in order.photo_uploads}
    refused = refused_photos or {}
    for index, key in enumerate(draft.photo_keys):
        if key not in issued:
            raise Refusal.invalid(f"photo {key!r} was not issued for job {order.job_id}", field=f"photo_keys.{index}")
        if key in refused:
            raise Refusal.invalid(f"photo {key!r} {refused[key]}", field=f"photo_keys.{index}")
        if key not in stored_photos:
            raise Refusal.invalid(f"photo {key!r} has not been uploaded yet", field=f"photo_keys.{index}")
    if len(set(draft.photo_keys)) != len(draft.photo_keys):
        raise Refusal.invalid("a photo is listed twice", field="photo_keys")
    diagnosis = Diagnosis(**draft.model_dump(), diagnosed_at=now)
    event = JobDiagnosed(
        job_id=order.job_id,
        engineer=engineer,
        measurements=draft.measurements,
        root_cause=draft.root_cause,
        failure_category=draft.failure_category,
        scope=draft.scope,
        running_hours=draft.running_hours,
        photo_keys=draft.photo_keys,
    )
    return order.model_copy(update={"status": Status.DIAGNOSED, "diagnosis": diagnosis}), event
