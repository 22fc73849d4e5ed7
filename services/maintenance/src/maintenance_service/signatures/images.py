"""Signature images in maintenance's own bucket, written before the transaction that records them.

An image is never missing for a recorded signature. A transaction refused after the image was written
(a parts shortage, a concurrent decision) removes it again (`recording`); should that removal fail, an
image that no work order names is left under a fresh signature id: harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from compressor_contracts.common import StoredObject
from compressor_kit.refusals import Refusal
from maintenance_service.settings import MaintenanceRuntime
from maintenance_service.signatures.domain import image_key

log = logging.getLogger(__name__)

SIGNATURES = "signatures"
"""The bucket's name within the service; the real one has the deployment's prefix (`Settings.bucket`)."""


async def keep_image(runtime: MaintenanceRuntime, job_id: str, signature_id: str, png: bytes) -> StoredObject:
    key = image_key(job_id, signature_id)
    await runtime.objects.put_bytes(SIGNATURES, key, png, "image/png")
    return StoredObject(
        bucket=runtime.objects.bucket(SIGNATURES),
        object_key=key,
        sha256=hashlib.sha256(png).hexdigest(),
        size_bytes=len(png),
        content_type="image/png",
    )


@asynccontextmanager
async def recording(runtime: MaintenanceRuntime, image: StoredObject | None) -> AsyncIterator[None]:
    """Around the transaction that records a stored image: a refusal (nothing committed) removes the image."""
    try:
        yield
    except Refusal:
        if image is not None:
            try:
                await asyncio.to_thread(runtime.objects.client.remove_object, image.bucket, image.object_key)
            except Exception:  # the refusal is what the caller must see; the orphan is harmless
                log.warning("could not remove the unrecorded signature image %s", image.object_key, exc_info=True)
        raise
