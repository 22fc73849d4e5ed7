"""A requester's photos against the real servers: a presigned POST upload to intake's own bucket, the
request naming it, job.requested carrying it, and the links read back; another customer's upload, a
photo never uploaded, an oversized one or one that is not an image is refused naming photo_keys, with
nothing recorded; a photo a request refers to cannot be overwritten through its upload form."""

from __future__ import annotations

import httpx

from intake_service.requests.photos import MAX_PHOTO_BYTES

from .intake_support import data_of, fields_of, open_file, phone_request

# The smallest valid PNG (1x1), enough for the object store and a browser.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a4e2b4ab0000000049454e44ae426082"
)


async def post_form(upload: dict, data: bytes) -> None:
    """What a browser does with the upload form: its fields, then the file (last)."""
    async with httpx.AsyncClient(timeout=30) as store:
        posted = await store.post(
            upload["upload_url"], data=upload["fields"], files={"file": ("alarm.png", data, "image/png")}
        )
    assert posted.status_code == 204, posted.text


async def photo_form(client, headers, customer_id: str | None = None) -> dict:
    body = {"file_name": "alarm display.png", "content_type": "image/png"}
    if customer_id:
        body["customer_id"] = customer_id
    asked = await client.post("/requests/photos", json=body, headers=headers)
    assert asked.status_code == 201, asked.text
    upload = asked.json()
    assert upload["method"] == "POST" and upload["max_bytes"] == MAX_PHOTO_BYTES
    assert upload["fields"]["key"] == f"uploads/{upload['photo_key']}"
    assert upload["fields"]["Content-Type"] == "image/png"
    return upload


async def upload_photo(client, headers, customer_id: str | None = None) -> str:
    upload = await photo_form(client, headers, customer_id)
    await post_form(upload, PNG)
    return upload["photo_key"]


async def test_a_portal_request_carries_its_uploaded_photo_to_job_requested(client, people, events, test_db):
    file = await open_file(client, people.reception)
    customer = people.customer(file.customer_id)
    key = await upload_photo(client, customer)
    assert key.startswith(f"{file.customer_id}/") and key.endswith("-alarm-display.png")

    response = await client.post(
        "/requests", json=phone_request(file, channel="portal", priority="normal", photo_keys=[key]), headers=customer
    )
    assert response.status_code == 201, response.text
    job_id = response.json()["job_id"]
    (requested,) = await events.wait_for("job.requested.v1", subject=job_id)
    assert data_of(requested)["photo_keys"] == [key]

    for reader in (customer, people.engineer, people.manager):
        links = await client.get(f"/requests/{job_id}/photos", headers=reader)
        assert links.status_code == 200, links.text
        assert [link["photo_key"] for link in links.json()] == [key]
    async with httpx.AsyncClient() as store:
        download = await store.get(links.json()[0]["download_url"])
    assert download.status_code == 200 and download.content == PNG
    stranger = await client.get(f"/requests/{job_id}/photos", headers=people.customer("CUST-OTHER"))
    assert stranger.status_code in (403, 404)


async def test_reception_uploads_for_the_customer_it_names(client, people, events):
    file = await open_file(client, people.reception)
    unnamed = await client.post(
        "/requests/photos", json={"file_name": "a.jpg", "content_type": "image/jpeg"}, headers=people.reception
    )
    assert unnamed.status_code == 422 and fields_of(unnamed) == {"customer_id"}
    not_a_photo = await client.post(
        "/requests/photos",
        json={"file_name": "a.pdf", "content_type": "application/pdf", "customer_id": file.customer_id},
        headers=people.reception,
    )
    assert not_a_photo.status_code == 422 and fields_of(not_a_photo) == {"content_type"}
    someone_elses = await client.post(
        "/requests/photos",
        json={"file_name": "a.jpg", "content_type": "image/jpeg", "customer_id": file.customer_id},
        headers=people.customer("CUST-OTHER"),
    )
    assert someone_elses.status_code == 403

    key = await upload_photo(client, people.reception, file.customer_id)
    response = await client.post("/requests", json=phone_request(file, photo_keys=[key]), headers=people.reception)
    assert response.status_code == 201, response.text
    (requested,) = await events.wait_for("job.requested.v1", subject=response.json()["job_id"])
    assert data_of(requested)["photo_keys"] == [key]


async def test_another_customers_photo_or_one_never_uploaded_is_refused_and_nothing_recorded(client, people, test_db):
    mine = await open_file(client, people.reception)
    theirs = await open_file(client, people.reception, serial="API999999")
    their_key = await upload_photo(client, people.customer(theirs.customer_id))
    customer = people.customer(mine.customer_id)
    never_uploaded = f"{mine.customer_id}/0123456789abcdef-missing.jpg"
    too_many = [f"{mine.customer_id}/{n:016x}-p.jpg" for n in range(7)]

    # A photo of another customer's or one never uploaded: refused by intake (422); seven: by the schema (400).
    for keys, status in (([their_key], 422), ([never_uploaded], 422), (too_many, 400)):
        body = phone_request(mine, channel="portal", priority="normal", photo_keys=keys)
        refused = await client.post("/requests", json=body, headers=customer)
        assert refused.status_code == status, refused.text
        assert fields_of(refused) == {"photo_keys"}, refused.text
    assert test_db.jobs.count_documents({}) == 0
    assert test_db.outbox.count_documents({}) == 0


async def test_an_oversized_or_non_image_photo_is_refused_naming_photo_keys_and_nothing_recorded(
    client, people, test_db
):
    file = await open_file(client, people.reception)
    customer = people.customer(file.customer_id)
    upload = await photo_form(client, customer)
    body = phone_request(file, channel="portal", priority="normal", photo_keys=[upload["photo_key"]])

    # The tests' S3 server does not enforce the form's policy, so the request checks what it let through.
    for data, why in (
        (b"%PDF-1.7 an invoice, not a photo", "is not a"),
        (PNG + b"\0" * MAX_PHOTO_BYTES, f"more than the {MAX_PHOTO_BYTES}"),
    ):
        await post_form(upload, data)
        refused = await client.post("/requests", json=body, headers=customer)
        assert refused.status_code == 422, refused.text
        assert fields_of(refused) == {"photo_keys"}, refused.text
        assert why in refused.text
    assert test_db.jobs.count_documents({}) == 0
    assert test_db.outbox.count_documents({}) == 0

    await post_form(upload, PNG)
    assert (await client.post("/requests", json=body, headers=customer)).status_code == 201


async def test_a_photo_a_request_refers_to_cannot_be_overwritten_through_its_upload_form(client, people):
    file = await open_file(client, people.reception)
    customer = people.customer(file.customer_id)
    upload = await photo_form(client, customer)
    await post_form(upload, PNG)
    body = phone_request(file, channel="portal", priority="normal", photo_keys=[upload["photo_key"]])
    created = await client.post("/requests", json=body, headers=customer)
    assert created.status_code == 201, created.text

    other_image = PNG[:-12] + b"\0" * 8 + PNG[-12:]
    await post_form(upload, other_image)  # the form is still valid for minutes
    # ... and a second request naming the same photo does not replace it either.
    again = phone_request(file, channel="portal", priority="normal", photo_keys=[upload["photo_key"]])
    assert (await client.post("/requests", json=again, headers=customer)).status_code == 201
    (link,) = (await client.get(f"/requests/{created.json()['job_id']}/photos", headers=customer)).json()
    async with httpx.AsyncClient() as store:
        download = await store.get(link["download_url"])
    assert download.content == PNG and download.headers["content-type"] == "image/png"
