"""Object storage through the `minio` client (any S3 API server).

The client is synchronous (urllib3), so every call runs in a worker thread to keep the event
loop free.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import urllib3
from minio import Minio

from compressor_kit.settings import Settings


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

    async def presigned_get(self, bucket: str, key: str, expires: timedelta) -> str:
        return await asyncio.to_thread(self.client.presigned_get_object, self.bucket(bucket), key, expires)

    async def presigned_put(self, bucket: str, key: str, expires: timedelta) -> str:
        return await asyncio.to_thread(self.client.presigned_put_object, self.bucket(bucket), key, expires)
