"""Phase 3 routes: arrival, photo uploads (presigned PUT URLs) and the diagnosis."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, Literal

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from minio.error import S3Error
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import StaffRole
from compressor_contracts.examples import JOB_ID
from compressor_kit.auth import CUSTOMER, principal_of, requires
from compressor_kit.outbox import UnitOfWork
from maintenance_service.diagnosis.domain import DiagnosisDraft, arrive, diagnose, issue_photo_upload
from maintenance_service.settings import MaintenanceRuntime
from maintenance_service.work_orders import store
from maintenance_service.work_orders.api import WorkOrderView, readable_work_order, work_order_view
from maintenance_service.work_orders.domain import PhotoUpload, WorkOrder
from maintenance_service.work_orders.store import Decision, change_work_order

PHOTOS = "photos"
UPLOAD_WINDOW = timedelta(minutes=15)
DOWNLOAD_WINDOW = timedelta(minutes=15)
TAGS = ["Diagnosis"]
PHOTO_KEY = f"{JOB_ID}/diagnosis/3f9a1c2b7d4e-valve.jpg"


class PhotoRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"file_name": "valve.jpg", "content_type": "image/jpeg"}]}
    )

    file_name: str = Field(min_length=1, max_length=200, description="Original file name, e.g. 'valve.jpg'.")
    content_type: str = Field(max_length=100, description="image/jpeg, image/png, image/heic or image/webp.")


class PhotoUploadUrl(BaseModel):
    """Where to PUT one photo, until when; the diagnosis then names its `photo_key`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "photo_key": PHOTO_KEY,
                    "upload_url": f"https://objects.example/maintenance-photos/{PHOTO_KEY}?X-Amz-Signature=...",
                    "method": "PUT",
                    "content_type": "image/jpeg",
                    "expires_at": "2026-03-02T13:15:00Z",
                }
            ]
        }
    )

    photo_key: str
    upload_url: str = Field(description="Presigned URL: PUT the photo's bytes there with the content type.")
    method: Literal["PUT"]
    content_type: str
    expires_at: datetime


class PhotoLink(BaseModel):
    """A diagnosis photo and a short-lived URL to download it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "photo_key": PHOTO_KEY,
                    "download_url": f"https://objects.example/maintenance-photos/{PHOTO_KEY}?X-Amz-Signature=...",
                }
            ]
        }
    )

    photo_key: str
    download_url: str


async def photo_stored(runtime: MaintenanceRuntime, key: str) -> bool:
    try:
        await asyncio.to_thread(runtime.objects.client.stat_object, runtime.objects.bucket(PHOTOS), key)
    except S3Error as exc:
        if exc.code in {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}:
            return False
        raise
    return True


@post(
    "/work-orders/{job_id:str}/arrival",
    **requires(StaffRole.ENGINEER),
    operation_id="recordArrival",
    summary="The assigned engineer arrived on site (job.engineer_arrived)",
    status_code=200,
    tags=TAGS,
)
async def record_arrival(
    job_id: FromPath[str], request: Request[Any, Any, Any], runtime: NamedDependency[MaintenanceRuntime]
) -> WorkOrderView:
    user, now = principal_of(request).subject, runtime.clock.now()

    async def decide(order: WorkOrder, uow: UnitOfWork) -> Decision[WorkOrder]:
        updated, event = arrive(order, user, now)
        return updated, [event], updated

    return work_order_view(await change_work_order(runtime, job_id, decide))


@post(
    "/work-orders/{job_id:str}/photos",
    **requires(StaffRole.ENGINEER),
    operation_id="requestPhotoUpload",
    summary="A presigned URL to PUT one diagnosis photo to; reference its photo_key in the diagnosis",
    tags=TAGS,
)
async def request_photo_upload(
    job_id: FromPath[str],
    data: JSONBody[PhotoRequest],
    request: Request[Any, Any, Any],
    runtime: NamedDependency[MaintenanceRuntime],
) -> PhotoUploadUrl:
    user, now = principal_of(request).subject, runtime.clock.now()

    async def decide(order: WorkOrder, uow: UnitOfWork) -> Decision[PhotoUpload]:
        updated, upload = issue_photo_upload(order, user, data.file_name, data.content_type, now)
        return updated, [], upload

    upload = await change_work_order(runtime, job_id, decide)
    url = await runtime.objects.presigned_put(PHOTOS, upload.photo_key, UPLOAD_WINDOW)
    return PhotoUploadUrl(
        photo_key=upload.photo_key,
        upload_url=url,
        method="PUT",
        content_type=upload.content_type,
        expires_at=now + UPLOAD_WINDOW,
    )


@get(
    "/work-orders/{job_id:str}/photos",
    **requires(StaffRole.ENGINEER, CUSTOMER, StaffRole.MANAGER, StaffRole.DISPATCHER, StaffRole.ADMIN),
    operation_id="listDiagnosisPhotos",
    summary="The photos linked to the diagnosis, each with a short-lived download URL",
    tags=TAGS,
)
async def list_photos(
    job_id: FromPath[str], request: Request[Any, Any, Any], runtime: NamedDependency[MaintenanceRuntime]
) -> list[PhotoLink]:
    order = await readable_work_order(runtime, request, job_id)
    keys = order.diagnosis.photo_keys if order.diagnosis else []
    return [
        PhotoLink(photo_key=key, download_url=await runtime.objects.presigned_get(PHOTOS, key, DOWNLOAD_WINDOW))
        for key in keys
    ]


@post(
    "/work-orders/{job_id:str}/diagnosis",
    **requires(StaffRole.ENGINEER),
    operation_id="recordDiagnosis",
    summary="Measurements, root cause, scope, failure category and uploaded photos (job.diagnosed)",
    status_code=200,
    tags=TAGS,
)
async def record_diagnosis(
    job_id: FromPath[str],
    data: JSONBody[DiagnosisDraft],
    request: Request[Any, Any, Any],
    runtime: NamedDependency[MaintenanceRuntime],
) -> WorkOrderView:
    user, now = principal_of(request).subject, runtime.clock.now()
    # Checked before the transaction: the object store is not part of it, and a photo once stored stays.
    order = await store.find(runtime, job_id)
    issued = {u.photo_key for u in order.photo_uploads} if order else set()
    stored = {key for key in data.photo_keys if key in issued and await photo_stored(runtime, key)}

    async def decide(order: WorkOrder, uow: UnitOfWork) -> Decision[WorkOrder]:
        updated, event = diagnose(order, user, data, stored, now)
        return updated, [event], updated

    return work_order_view(await change_work_order(runtime, job_id, decide))


ROUTES = [record_arrival, request_photo_upload, list_photos, record_diagnosis]
