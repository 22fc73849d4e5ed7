"""A requester's photos of the fault: uploaded by the browser straight to intake's request-photos
bucket (a presigned POST policy: one key, the declared image type, at most MAX_PHOTO_BYTES, 15 minutes),
then named by the request. Keys sit under the customer's id, so a request can only name its own
customer's uploads. Before anything is recorded each photo is taken from the store: its size and first
bytes checked there (an S3 server that does not enforce the policy is covered too), then copied to its
own key, which no upload form names, so a photo a request refers to cannot be overwritten."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import timedelta

from compressor_kit.objectstore import UploadForm, UploadMissing, UploadRefused
from compressor_kit.refusals import FieldIssue
from intake_service.customer_file.domain import invalid
from intake_service.settings import IntakeRuntime

REQUEST_PHOTOS = "request-photos"
"""Intake's bucket of requesters' photos (the real name carries the S3 prefix)."""
MAX_PHOTOS = 6
PHOTO_TYPES = ("image/jpeg", "image/png", "image/heic", "image/webp")
MAX_PHOTO_BYTES = 20 * 1024 * 1024
"""A phone's photo is a few MB; the upload form and the acceptance check both hold it to this."""
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


async def accept_photos(runtime: IntakeRuntime, keys: list[str]) -> None:
    """Take every named photo from the store, checked there (before the transaction: the store is not part
    of it); a photo accepted before stays as it was."""
    for key in keys:
        try:
            await runtime.objects.accept_upload(
                REQUEST_PHOTOS, key, content_types=PHOTO_TYPES, max_bytes=MAX_PHOTO_BYTES
            )
        except UploadMissing as missing:
            raise invalid([FieldIssue("photo_keys", f"no photo was uploaded as {key}")]) from missing
        except UploadRefused as refusal:
            raise invalid([FieldIssue("photo_keys", f"the photo {key} {refusal}")]) from refusal


async def upload_form(runtime: IntakeRuntime, key: str, content_type: str) -> UploadForm:
    return await runtime.objects.presigned_post(
        REQUEST_PHOTOS, key, content_type=content_type, max_bytes=MAX_PHOTO_BYTES, expires=UPLOAD_WINDOW
    )


async def download_url(runtime: IntakeRuntime, key: str) -> str:
    return await runtime.objects.presigned_get(REQUEST_PHOTOS, key, DOWNLOAD_WINDOW)
