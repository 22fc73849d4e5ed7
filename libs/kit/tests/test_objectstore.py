"""The object-store client against the local S3 server: buckets, objects and presigned links."""

import urllib.request
from datetime import timedelta

from compressor_kit.objectstore import ObjectStore


async def test_buckets_objects_and_presigned_download(test_settings):
    store = ObjectStore(test_settings, buckets=["reports"])
    await store.ensure_buckets()
    await store.ensure_buckets()  # idempotent: an existing bucket is left as it is
    assert store.bucket("reports") == f"{test_settings.s3_bucket_prefix}reports"

    await store.put_bytes(
        "reports", "2026/11/JOB-1/report.pdf", b"%PDF-1.7 test", "application/pdf", metadata={"job-id": "JOB-1"}
    )
    assert await store.get_bytes("reports", "2026/11/JOB-1/report.pdf") == b"%PDF-1.7 test"

    url = await store.presigned_get("reports", "2026/11/JOB-1/report.pdf", timedelta(minutes=5))
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a local presigned URL
        assert response.read() == b"%PDF-1.7 test"
        assert response.headers["Content-Type"] == "application/pdf"
