"""Diagnosis photos against the real S3 server (moto) and MongoDB: the upload form is a presigned POST
policy (one key, the declared type, a size range, an expiry); moto does not enforce policies, so the
diagnosis checks each photo in the store before it accepts it: an oversized or non-image upload is
refused naming the photo's field, with nothing recorded; an accepted photo cannot be overwritten through
the form that uploaded it."""

from __future__ import annotations

import httpx

from maintenance_service.diagnosis.domain import MAX_PHOTO_BYTES

from .test_refusals import DIAGNOSIS, ok, refused

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"a stuck thermostatic valve" + b"\xff\xd9"


def post_form(form: dict, data: bytes, content_type: str = "image/jpeg") -> None:
    """What the engineer's browser does: the form's fields, then the file (last)."""
    posted = httpx.post(
        form["upload_url"], data=form["fields"], files={"file": ("valve.jpg", data, content_type)}, timeout=30
    )
    assert posted.status_code == 204, posted.text


async def on_site(service) -> None:
    await service.open_work_order()
    await ok(service, "/arrival")


async def test_an_oversized_or_non_image_photo_is_refused_at_the_diagnosis_naming_its_field(service):
    await on_site(service)
    form = await ok(service, "/photos", json={"file_name": "valve.jpg", "content_type": "image/jpeg"})
    assert form["method"] == "POST" and form["max_bytes"] == MAX_PHOTO_BYTES
    assert form["fields"]["key"] == f"uploads/{form['photo_key']}"
    diagnosis = {**DIAGNOSIS, "photo_keys": [form["photo_key"]]}

    post_form(form, b"<script>alert(1)</script>", "image/jpeg")  # a page declared as a photo
    body = await refused(service, "POST", "/diagnosis", 422, "photo_keys.0", json=diagnosis, headers=service.engineer)
    assert "is not a JPEG image" in body["errors"][0]["message"]

    post_form(form, b"\x89PNG\r\n\x1a\n" + b"\0" * 64)  # another image type than the one declared
    await refused(service, "POST", "/diagnosis", 422, "photo_keys.0", json=diagnosis, headers=service.engineer)

    post_form(form, JPEG + b"\0" * MAX_PHOTO_BYTES)  # a JPEG just over the limit
    body = await refused(service, "POST", "/diagnosis", 422, "photo_keys.0", json=diagnosis, headers=service.engineer)
    assert f"more than the {MAX_PHOTO_BYTES}" in body["errors"][0]["message"]

    post_form(form, JPEG)
    accepted = await ok(service, "/diagnosis", json=diagnosis)
    assert accepted["status"] == "diagnosed" and accepted["diagnosis"]["photo_keys"] == [form["photo_key"]]


async def test_a_photo_the_diagnosis_references_cannot_be_overwritten_through_its_upload_form(service):
    await on_site(service)
    form = await ok(service, "/photos", json={"file_name": "valve.jpg", "content_type": "image/jpeg"})
    post_form(form, JPEG)
    await ok(service, "/diagnosis", json={**DIAGNOSIS, "photo_keys": [form["photo_key"]]})

    post_form(form, JPEG.replace(b"stuck", b"fixed"))  # the form is still valid for minutes
    [listed] = (await service.client.get(f"/work-orders/{service.job_id}/photos", headers=service.customer)).json()
    download = httpx.get(listed["download_url"])
    assert download.content == JPEG
    assert download.headers["content-type"] == "image/jpeg"  # served as what its bytes are

    # Naming it again (a second diagnosis is refused anyway) changes nothing either.
    again = await service.client.post(
        f"/work-orders/{service.job_id}/diagnosis",
        json={**DIAGNOSIS, "photo_keys": [form["photo_key"]]},
        headers=service.engineer,
    )
    assert again.status_code == 409
    assert httpx.get(listed["download_url"]).content == JPEG
