"""Object storage through the `minio` client (any S3 API server).

The client is synchronous (urllib3), so every call runs in a worker thread to keep the event
loop free.

Uploads from browsers (photos) go through a presigned POST policy (`presigned_post`): one exact key
under `uploads/`, one content type, a size range and an expiry, which the store enforces. The object
is only used once the service has taken it (`accept_upload`): its size and its first bytes checked on
the server (an S3 server that does not enforce POST policies, such as the tests' moto, is covered too),
then copied to its own key, which no upload form ever names. An accepted object is never replaced, so
an upload form still valid after its photo was accepted cannot change what was accepted.

Links and forms are signed for the public endpoint (S3_PUBLIC_ENDPOINT, e.g. the reverse proxy's host),
which browsers reach, while the service itself talks to the internal one (S3_ENDPOINT): a signature
covers the host, so a link signed for `minio:9000` could not be rewritten afterwards.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import urllib3
from minio import Minio
from minio.commonconfig import REPLACE, CopySource
from minio.datatypes import Object, PostPolicy
from minio.error import S3Error

from compressor_kit.settings import Settings

UPLOADS = "uploads/"
"""Where upload forms put objects; accepted objects live under their own key, outside it."""
MISSING = {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}
IMAGE_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP", "image/heic": "HEIC"}
HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


def sniffed_image_type(head: bytes) -> str | None:
    """The image type an object's first bytes show (their magic numbers), whatever its name or header says."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in HEIC_BRANDS:
        return "image/heic"
    return None


def upload_key(key: str) -> str:
    """The key an upload form for `key` writes to."""
    return UPLOADS + key


@dataclass(frozen=True)
class UploadForm:
    """A browser POSTs multipart/form-data to `url`: every one of `fields`, then the file as `file` (last)."""

    url: str
    fields: dict[str, str]


class UploadRefused(Exception):
    """The uploaded object is not acceptable; the message says why (it follows the key's name)."""


class UploadMissing(UploadRefused):
    """Nothing was uploaded for the key (yet)."""


class ObjectStore:
    def __init__(self, settings: Settings, buckets: Iterable[str] = ()) -> None:
        self.settings = settings
        # Short timeouts and few retries: readiness must answer quickly when the store is down.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=2, read=30),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)),
        )
        self.client = Minio(
            settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=settings.s3_secure,
            region=settings.s3_region,
            http_client=http,
        )
        # Signing only: with the region given, the client never asks the server for it, so this makes no
        # request to an address that may not resolve from inside the network.
        self.public_endpoint = settings.s3_public_endpoint or settings.s3_endpoint
        self.public_secure = settings.s3_public_secure if settings.s3_public_endpoint else settings.s3_secure
        self.signer = Minio(
            self.public_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=self.public_secure,
            region=settings.s3_region,
        )
        self.buckets = {name: settings.bucket(name) for name in buckets}

    def bucket(self, name: str) -> str:
        """The real bucket name of one of this service's buckets."""
        return self.buckets[name]

    async def ensure_buckets(self) -> None:
        for bucket in self.buckets.values():
            # bucket_exists first: real MinIO refuses to create a bucket it already owns.
            if not await asyncio.to_thread(self.client.bucket_exists, bucket):
                await asyncio.to_thread(self.client.make_bucket, bucket)

    async def ping(self) -> None:
        await asyncio.to_thread(self.client.list_buckets)

    async def put_bytes(
        self, bucket: str, key: str, data: bytes, content_type: str, metadata: dict[str, Any] | None = None
    ) -> str:
        result = await asyncio.to_thread(
            self.client.put_object,
            self.bucket(bucket),
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
            metadata=metadata,
        )
        return result.version_id or ""

    async def get_bytes(self, bucket: str, key: str) -> bytes:
        def read() -> bytes:
            response = self.client.get_object(self.bucket(bucket), key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return await asyncio.to_thread(read)

    async def presigned_get(self, bucket: str, key: str, expires: timedelta, *, version_id: str | None = None) -> str:
        """A download link for browsers, on the public endpoint (one version of the object, if given)."""
        return await asyncio.to_thread(
            self.signer.presigned_get_object, self.bucket(bucket), key, expires, version_id=version_id
        )

    async def presigned_post(
        self, bucket: str, key: str, *, content_type: str, max_bytes: int, expires: timedelta
    ) -> UploadForm:
        """A form that uploads one object of `content_type`, 1 to `max_bytes` bytes, to `upload_key(key)`
        only, until `expires` from now; `accept_upload(key)` then takes it."""
        real = self.bucket(bucket)
        policy = PostPolicy(real, datetime.now(UTC) + expires)
        policy.add_equals_condition("key", upload_key(key))
        policy.add_equals_condition("Content-Type", content_type)
        policy.add_content_length_range_condition(1, max_bytes)
        signed = await asyncio.to_thread(self.signer.presigned_post_policy, policy)
        scheme = "https" if self.public_secure else "http"
        fields = {"key": upload_key(key), "Content-Type": content_type, **signed}
        return UploadForm(url=f"{scheme}://{self.public_endpoint}/{real}", fields=fields)

    async def accept_upload(self, bucket: str, key: str, *, content_types: Collection[str], max_bytes: int) -> str:
        """Take what was uploaded for `key` as the object `key`, after checking it on the server: at most
        `max_bytes`, and its first bytes those of an image of one of `content_types` (which it is then
        served as). An object accepted before is checked again and kept as it is, never replaced.
        The image type; UploadMissing or UploadRefused otherwise."""
        real = self.bucket(bucket)

        def stat(name: str) -> Object | None:
            try:
                return self.client.stat_object(real, name)
            except S3Error as error:
                if error.code in MISSING:
                    return None
                raise

        def head(name: str) -> bytes:
            response = self.client.get_object(real, name, offset=0, length=16)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        def accept() -> str:
            accepted = stat(key)
            source = key if accepted else upload_key(key)
            found = accepted or stat(source)
            if found is None:
                raise UploadMissing("has not been uploaded")
            size = found.size or 0
            if size > max_bytes:
                raise UploadRefused(f"is {size} bytes, more than the {max_bytes} a photo may have")
            if size == 0:
                raise UploadRefused("is empty")
            kind = sniffed_image_type(head(source))
            if kind is None or kind not in content_types:
                names = " or ".join(IMAGE_NAMES.get(t, t) for t in sorted(content_types))
                raise UploadRefused(f"is not a {names} image")
            if accepted is None:
                # Copied only if it is still the object checked (its ETag), and served as what it is.
                self.client.copy_object(
                    real,
                    key,
                    CopySource(real, source, match_etag=found.etag),
                    metadata={"Content-Type": kind},
                    metadata_directive=REPLACE,
                )
                self.client.remove_object(real, source)
            return kind

        return await asyncio.to_thread(accept)
