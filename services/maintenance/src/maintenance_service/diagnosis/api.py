"""Phase 3 routes: arrival, photo uploads (presigned PUT URLs) and the diagnosis."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from minio.error import S3Error
from pydantic import BaseModel, ConfigDict, Field

from compressor_kit.auth import Role, principal_of, requires
from compressor_kit.runtime import Runtime
from maintenance_service.diagnosis.domain import DiagnosisDraft, arrive, diagnose, issue_photo_upload
from maintenance_service.work_orders.api import readable_work_order, work_order_view
from maintenance_service.work_orders.store import change_work_order, load

PHOTOS = "photos"
UPLOAD_WINDOW = timedelta(minutes=15)
DOWNLOAD_WINDOW = timedelta(minutes=15)


class PhotoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_name: str = Field(min_length=1, max_length=200, description="Original file name, e.g. 'valve.jpg'.")
    content_type: str = Field(max_length=100, description="image/jpeg, image/png, image/heic or image/webp.")


async def photo_stored(runtime: Runtime, key: str) -> bool:
    try:
        await asyncio.to_thread(runtime.objects.client.stat_object, runtime.objects.bucket(PHOTOS), key)
    except S3Error as exc:
        if exc.code in {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}:
            return False
        raise
    return True


@post(
    "/work-orders/{job_id:str}/arrival",
    **requires(Role.ENGINEER),
    operation_id="recordArrival",
    summary="The assigned engineer arrived on site (job.engineer_arrived)",
    status_code=200,
)
async def record_arrival(job_id: FromPath[str], request: Request, runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    user, now = principal_of(request).subject, runtime.clock.now()

    async def decide(order, uow):
        updated, event = arrive(order, user, now)
        return updated, [event], updated

    return work_order_view(await change_work_order(runtime, job_id, decide))


@post(
    "/work-orders/{job_id:str}/photos",
    **requires(Role.ENGINEER),
    operation_id="requestPhotoUpload",
    summary="A presigned URL to PUT one diagnosis photo to; reference its photo_key in the diagnosis",
)
async def request_photo_upload(
    job_id: FromPath[str], data: JSONBody[PhotoRequest], request: Request, runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    user, now = principal_of(request).subject, runtime.clock.now()

    async def decide(order, uow):
        updated, upload = issue_photo_upload(order, user, data.file_name, data.content_type, now)
        return updated, [], upload

    upload = await change_work_order(runtime, job_id, decide)
    url = await runtime.objects.presigned_put(PHOTOS, upload.photo_key, UPLOAD_WINDOW)
    return {
        "photo_key": upload.photo_key,
        "upload_url": url,
        "method": "PUT",
        "content_type": upload.content_type,
        "expires_at": (now + UPLOAD_WINDOW).isoformat(),
    }


@get(
    "/work-orders/{job_id:str}/photos",
    **requires(Role.ENGINEER, Role.CUSTOMER, Role.MANAGER, Role.DISPATCHER, Role.ADMIN),
    operation_id="listDiagnosisPhotos",
    summary="The photos linked to the diagnosis, each with a short-lived download URL",
)
async def list_photos(
    job_id: FromPath[str], request: Request, runtime: NamedDependency[Runtime]
) -> list[dict[str, Any]]:
    order = await readable_work_order(runtime, request, job_id)
    keys = order.diagnosis.photo_keys if order.diagnosis else []
    return [
        {"photo_key": key, "download_url": await runtime.objects.presigned_get(PHOTOS, key, DOWNLOAD_WINDOW)}
        for key in keys
    ]


@post(
    "/work-orders/{job_id:str}/diagnosis",
    **requires(Role.ENGINEER),
    operation_id="recordDiagnosis",
    summary="Measurements, root cause, scope, failure category and uploaded photos (job.diagnosed)",
    status_code=200,
)
async def record_diagnosis(
    job_id: FromPath[str], data: JSONBody[DiagnosisDraft], request: Request, runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    user, now = principal_of(request).subject, runtime.clock.now()
    # Checked before the transaction: the object store is not part of it, and a photo once stored stays.
    order = await load(runtime.db, job_id)
    issued = {u.photo_key for u in order.photo_uploads} if order else set()
    stored = {key for key in data.photo_keys if key in issued and await photo_stored(runtime, key)}

    async def decide(order, uow):
        updated, event = diagnose(order, user, data, stored, now)
        return updated, [event], updated

    return work_order_view(await change_work_order(runtime, job_id, decide))


ROUTES = [record_arrival, request_photo_upload, list_photos, record_diagnosis]
