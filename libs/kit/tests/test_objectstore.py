"""The object-store client against the local S3 server: buckets, objects and presigned links."""

import base64
import json
import urllib.request
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from compressor_kit.objectstore import ObjectStore, UploadForm, UploadMissing, UploadRefused, sniffed_image_type


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


# --- uploads from browsers: presigned POST policies, then accepted after a check on the server ---------

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a4e2b4ab0000000049454e44ae426082"
)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x00" * 64 + b"\xff\xd9"


def posted(form: UploadForm, data: bytes, content_type: str) -> httpx.Response:
    """What a browser does with the form: its fields, then the file last."""
    return httpx.post(form.url, data=form.fields, files={"file": ("photo", data, content_type)}, timeout=10)


async def photo_store(test_settings) -> ObjectStore:
    store = ObjectStore(test_settings, buckets=["photos"])
    await store.ensure_buckets()
    return store


async def test_an_upload_form_names_one_key_one_type_a_size_range_and_an_expiry(test_settings):
    store = await photo_store(test_settings)
    form = await store.presigned_post(
        "photos", "JOB-1/a.png", content_type="image/png", max_bytes=1000, expires=timedelta(minutes=15)
    )
    assert form.url == f"http://{test_settings.s3_endpoint}/{store.bucket('photos')}"
    assert form.fields["key"] == "uploads/JOB-1/a.png" and form.fields["Content-Type"] == "image/png"
    policy = json.loads(base64.b64decode(form.fields["policy"]))
    conditions = policy["conditions"]
    assert ["eq", "$key", "uploads/JOB-1/a.png"] in conditions
    assert ["eq", "$Content-Type", "image/png"] in conditions
    assert ["content-length-range", 1, 1000] in conditions
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert timedelta(minutes=14) < expiration - datetime.now(UTC) <= timedelta(minutes=15)


async def test_an_accepted_upload_is_checked_on_the_server_and_never_replaced(test_settings):
    store = await photo_store(test_settings)
    bucket = store.bucket("photos")
    form = await store.presigned_post(
        "photos", "JOB-1/a.png", content_type="image/png", max_bytes=1000, expires=timedelta(minutes=15)
    )
    with pytest.raises(UploadMissing):
        await store.accept_upload("photos", "JOB-1/a.png", content_types={"image/png"}, max_bytes=1000)

    # The tests' S3 server does not enforce POST policies: what it lets through is refused at acceptance.
    assert posted(form, b"<html>not a photo</html>" * 3, "image/png").status_code == 204
    with pytest.raises(UploadRefused, match="is not a PNG image"):
        await store.accept_upload("photos", "JOB-1/a.png", content_types={"image/png"}, max_bytes=1000)
    assert posted(form, PNG + b"\0" * 1000, "image/png").status_code == 204
    with pytest.raises(UploadRefused, match="more than the 1000"):
        await store.accept_upload("photos", "JOB-1/a.png", content_types={"image/png"}, max_bytes=1000)
    assert posted(form, JPEG, "image/png").status_code == 204  # a JPEG declared as PNG
    with pytest.raises(UploadRefused, match="is not a PNG image"):
        await store.accept_upload("photos", "JOB-1/a.png", content_types={"image/png"}, max_bytes=1000)

    assert posted(form, PNG, "image/png").status_code == 204
    kind = await store.accept_upload("photos", "JOB-1/a.png", content_types={"image/png"}, max_bytes=1000)
    assert kind == "image/png"
    assert await store.get_bytes("photos", "JOB-1/a.png") == PNG
    assert store.client.stat_object(bucket, "JOB-1/a.png").content_type == "image/png"

    # The form is still valid: a second upload through it cannot change the accepted photo, not even
    # when the photo is accepted again.
    assert posted(form, JPEG, "image/png").status_code == 204
    assert form.fields["key"] != "JOB-1/a.png"
    assert await store.accept_upload("photos", "JOB-1/a.png", content_types={"image/png"}, max_bytes=1000)
    assert await store.get_bytes("photos", "JOB-1/a.png") == PNG


def test_image_types_are_told_by_their_first_bytes():
    assert sniffed_image_type(JPEG) == "image/jpeg"
    assert sniffed_image_type(PNG) == "image/png"
    assert sniffed_image_type(b"RIFF\x24\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniffed_image_type(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00") == "image/heic"
    assert sniffed_image_type(b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00") is None  # an MP4 video
    assert sniffed_image_type(b"GIF89a") is None
    assert sniffed_image_type(b"<svg xmlns=") is None
