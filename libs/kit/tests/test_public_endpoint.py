"""Presigned links and upload forms name the public endpoint (S3_PUBLIC_ENDPOINT), not the internal one
the service talks to: in a deployment the internal name (`minio:9000`) exists only inside the network."""

import socket
import urllib.request
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from compressor_kit.objectstore import ObjectStore

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a4e2b4ab0000000049454e44ae426082"
)


@pytest.fixture
def public_settings(test_settings):
    """The same S3 server, reached by another name: `localhost` for the public side, the IP inside."""
    host, port = test_settings.s3_endpoint.rsplit(":", 1)
    if host != "127.0.0.1" or socket.gethostbyname("localhost") != "127.0.0.1":
        pytest.skip("needs the local S3 server on 127.0.0.1 and localhost resolving to it")
    return test_settings.model_copy(update={"s3_public_endpoint": f"localhost:{port}", "s3_public_secure": False})


async def test_a_presigned_download_names_the_public_host_and_works_there(public_settings):
    store = ObjectStore(public_settings, buckets=["reports"])
    await store.ensure_buckets()
    await store.put_bytes("reports", "JOB-1/report.pdf", b"%PDF-1.7 public", "application/pdf")

    url = await store.presigned_get("reports", "JOB-1/report.pdf", timedelta(minutes=5))
    assert urlsplit(url).netloc == public_settings.s3_public_endpoint
    assert urlsplit(url).scheme == "http"
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a local presigned URL
        assert response.read() == b"%PDF-1.7 public"


async def test_a_presigned_download_of_one_version_names_the_public_host(public_settings):
    store = ObjectStore(public_settings, buckets=["reports"])
    url = await store.presigned_get("reports", "JOB-1/report.pdf", timedelta(minutes=5), version_id="v1")
    assert urlsplit(url).netloc == public_settings.s3_public_endpoint
    assert "versionId=v1" in urlsplit(url).query


async def test_an_upload_form_posts_to_the_public_host(public_settings):
    store = ObjectStore(public_settings, buckets=["photos"])
    await store.ensure_buckets()
    form = await store.presigned_post(
        "photos", "JOB-1/a.png", content_type="image/png", max_bytes=1000, expires=timedelta(minutes=15)
    )
    assert form.url == f"http://{public_settings.s3_public_endpoint}/{store.bucket('photos')}"
    response = httpx.post(form.url, data=form.fields, files={"file": ("a.png", PNG, "image/png")}, timeout=10)
    assert response.status_code in (200, 201, 204), response.text
    assert await store.accept_upload("photos", "JOB-1/a.png", content_types={"image/png"}, max_bytes=1000) == (
        "image/png"
    )


def test_signing_for_a_public_endpoint_makes_no_request(test_settings):
    """The signer is never connected: a name that resolves nowhere still gets a link (region given)."""
    settings = test_settings.model_copy(
        update={"s3_public_endpoint": "files.invalid", "s3_public_secure": True, "s3_region": "us-east-1"}
    )
    url = ObjectStore(settings, buckets=["reports"]).signer.presigned_get_object(
        settings.bucket("reports"), "x", timedelta(minutes=1)
    )
    assert url.startswith("https://files.invalid/")


def test_without_a_public_endpoint_links_name_the_internal_one(test_settings):
    store = ObjectStore(test_settings, buckets=["reports"])
    assert (store.public_endpoint, store.public_secure) == (test_settings.s3_endpoint, test_settings.s3_secure)
