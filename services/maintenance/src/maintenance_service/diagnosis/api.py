"""Phase 3 routes: arrival, photo uploads (presigned POST forms: one key, the declared image type, at most
MAX_PHOTO_BYTES, 15 minutes) and the diagnosis, which takes each named photo only after checking it in
the store (size, and its first bytes an image of the declared type) and copies it to its own key, where
no upload form can change it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import StaffRole
from compressor_contracts.examples import JOB_ID
from compressor_kit.auth import CUSTOMER, principal_of, requires
from compressor_kit.objectstore import UploadMissing, UploadRefused
from compressor_kit.outbox import UnitOfWork
from maintenance_service.diagnosis.domain import (
    MAX_PHOTO_BYTES,
    DiagnosisDraft,
    arrive,
    diagnose,
    issue_photo_upload,
    may_diagnose,
)
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
    """Where to POST one photo, until when; the diagnosis then names its `photo_key`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "photo_key": PHOTO_KEY,
                    "upload_url": "https://objects.example/compressor-photos",
                    "method": "POST",
                    "fields": {
                        "key": f"uploads/{PHOTO_KEY}",
                        "Content-Type": "image/jpeg",
                        "policy": "eyJleHBpcmF0aW9uIjogIjIwMjYtMDMtMDJUMTM6MTU6MDBaIiwgLi4ufQ==",
                        "x-amz-algorithm": "AWS4-HMAC-SHA256",
                        "x-amz-credential": "maintenance/20260302/us-east-1/s3/aws4_request",
                        "x-amz-date": "20260302T130000Z",
                        "x-amz-signature": "...",
                    },
                    "content_type": "image/jpeg",
                    "max_bytes": MAX_PHOTO_BYTES,
                    "expires_at": "2026-03-02T13:15:00Z",
                }
            ]
        }
    )

    photo_key: str
    upload_url: str = Field(description="The object store's bucket URL to POST the upload form to.")
    method: Literal["POST"]
    fields: dict[str, str] = Field(
        description="Presigned POST policy: send every field as multipart/form-data, then the photo as `file` "
        "(last). The store accepts only this key, this content type, at most max_bytes, until expires_at."
    )
    content_type: str
    max_bytes: int
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


async def accept_photos(
    runtime: MaintenanceRuntime, order: WorkOrder, keys: list[str]
) -> tuple[set[str], dict[str, str]]:
    """The drafted photos issued for this order taken from the store (checked there and moved to their own
    key), and why others were refused; a photo not uploaded yet is in neither."""
    declared = {u.photo_key: u.content_type for u in order.photo_uploads}
    accepted, refused = set(), {}
    for key in dict.fromkeys(keys):
        if key not in declared:
            continue
        try:
            await runtime.objects.accept_upload(PHOTOS, key, content_types={declared[key]}, max_bytes=MAX_PHOTO_BYTES)
        except UploadMissing:
            continue
        except UploadRefused as refusal:
            refused[key] = str(refusal)
            continue
        accepted.add(key)
    return accepted, refused


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
    summary="A presigned POST form for one diagnosis photo; reference its photo_key in the diagnosis",
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
    form = await runtime.objects.presigned_post(
        PHOTOS, upload.photo_key, content_type=upload.content_type, max_bytes=MAX_PHOTO_BYTES, expires=UPLOAD_WINDOW
    )
    return PhotoUploadUrl(
        photo_key=upload.photo_key,
        upload_url=form.url,
        method="POST",
        fields=form.fields,
        content_type=upload.content_type,
        max_bytes=MAX_PHOTO_BYTES,
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
    # Taken from the store before the transaction (the store is not part of it), and only by the order's
    # engineer while on site; a photo once accepted stays as it was accepted.
    order = await store.find(runtime, job_id)
    stored, refused = set[str](), dict[str, str]()
    if order is not None:
        may_diagnose(order, user)
        stored, refused = await accept_photos(runtime, order, data.photo_keys)

    async def decide(order: WorkOrder, uow: UnitOfWork) -> Decision[WorkOrder]:
        updated, event = diagnose(order, user, data, stored, now, refused)
        return updated, [event], updated

    return work_order_view(await change_work_order(runtime, job_id, decide))


ROUTES = [record_arrival, request_photo_upload, list_photos, record_diagnosis]
