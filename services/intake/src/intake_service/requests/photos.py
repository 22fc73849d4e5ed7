"""A requester's photos of the fault: uploaded by the browser straight to intake's request-photos
bucket (a presigned PUT), then named by the request. Keys sit under the customer's id, so a request
can only name its own customer's uploads; the object store is checked before anything is recorded."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterable
from datetime import timedelta

from minio.error import S3Error

from compressor_kit.refusals import FieldIssue
from intake_service.customer_file.domain import invalid
from intake_service.settings import IntakeRuntime

REQUEST_PHOTOS = "request-photos"
"""Intake's bucket of requesters' photos (the real name carries the S3 prefix)."""
MAX_PHOTOS = 6
PHOTO_TYPES = ("image/jpeg", "image/png", "image/heic", "image/webp")
UPLOAD_WINDOW = timedelta(minutes=15)
DOWNLOAD_WINDOW = timedelta(minutes=15)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def new_photo_key(customer_id: str, file_name: str) -> str:
    """'CUST-1/3f9a…-alarm-display.jpg': unguessable, under the customer's id, the name kept readable."""
    name = _UNSAFE.sub("-", file_name.rsplit("/", 1)[-1]).strip("-.")[-80:] or "photo"
    return f"{customer_id}/{secrets.token_hex(8)}-{name}"


def check_photo_type(content_type: str) -> None:
    if content_type not in PHOTO_TYPES:
        raise invalid([FieldIssue("content_type", f"a photo is one of {', '.join(PHOTO_TYPES)}")])


def check_photo_keys(keys: Iterable[str], customer_id: str) -> list[str]:
    """The request's photo keys, each once: at most MAX_PHOTOS, each an upload for this customer."""
    unique = list(dict.fromkeys(keys))
    if len(unique) > MAX_PHOTOS:
        raise invalid([FieldIssue("photo_keys", f"at most {MAX_PHOTOS} photos per request")])
    foreign = [key for key in unique if not key.startswith(f"{customer_id}/")]
    if foreign:
        raise invalid([FieldIssue("photo_keys", f"not a photo uploaded for this customer: {foreign[0]}")])
    return unique


async def _stored(runtime: IntakeRuntime, key: str) -> bool:
    try:
        await asyncio.to_thread(runtime.objects.client.stat_object, runtime.objects.bucket(REQUEST_PHOTOS), key)
    except S3Error as exc:
        if exc.code in {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}:
            return False
        raise
    return True


async def ensure_photos_stored(runtime: IntakeRuntime, keys: list[str]) -> None:
    """Every named photo is in the bucket (checked before the transaction: the store is not part of it)."""
    missing = [key for key in keys if not await _stored(runtime, key)]
    if missing:
        raise invalid([FieldIssue("photo_keys", f"no photo was uploaded as {missing[0]}")])


async def upload_url(runtime: IntakeRuntime, key: str) -> str:
    return await runtime.objects.presigned_put(REQUEST_PHOTOS, key, UPLOAD_WINDOW)


async def download_url(runtime: IntakeRuntime, key: str) -> str:
    return await runtime.objects.presigned_get(REQUEST_PHOTOS, key, DOWNLOAD_WINDOW)
