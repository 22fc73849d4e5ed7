"""Signatures against the real servers: a plan approved on site with the customer's signature, the inspected
work accepted with another; every bad signature refused with nothing stored (MongoDB, the bucket, the outbox)."""

import hashlib
import io
import os

from PIL import Image

from compressor_kit.testing import eventually
from maintenance_service.signatures.domain import MAX_IMAGE_BYTES, content_sha256, plan_facts, work_facts
from maintenance_service.signatures.images import SIGNATURES
from maintenance_service.work_orders.store import from_document

from .signing import SIGNER, data_url, signature, signature_png
from .test_flow import diagnose, do_all_steps


async def refused(service, path: str, status: int, field: str, **kwargs) -> dict:
    before = service.snapshot()
    response = await service.client.post(f"/work-orders/{service.job_id}{path}", **kwargs)
    body = service.refused(response, status, field)
    assert service.snapshot() == before, f"POST {path} stored something although refused"
    return body


def noise_png(size_bytes: int) -> bytes:
    """A PNG of random pixels: it does not compress, so its size is about its pixels'."""
    side = int((size_bytes / 4) ** 0.5) + 1
    out = io.BytesIO()
    Image.frombytes("RGBA", (side, side), os.urandom(side * side * 4)).save(out, format="PNG")
    return out.getvalue()


def opaque_blank_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 120), (255, 255, 255)).save(out, format="PNG")
    return out.getvalue()


def stored_image(service, event) -> bytes:
    image = event.data.image
    assert image.bucket == service.objects.bucket(SIGNATURES)
    response = service.objects.client.get_object(image.bucket, image.object_key)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


async def test_the_customer_signs_the_plan_on_site_and_accepts_the_inspected_work(service):
    client, job = service.client, service.job_id
    await service.open_work_order()
    assert (await client.post(f"/work-orders/{job}/arrival", headers=service.engineer)).status_code == 200
    await diagnose(service)
    for _ in range(2):  # revision 2 replaces revision 1
        proposed = await client.post(
            f"/work-orders/{job}/plans", json={"procedure_id": "PROC-GA-VSD-OILCIRCUIT"}, headers=service.engineer
        )
        assert proposed.status_code == 201, proposed.text

    # Bad signatures: 422 naming the field, nothing stored, nothing published.
    engineer = service.engineer
    await refused(service, "/plans/2/approve", 422, "signature", json={}, headers=engineer)
    await refused(service, "/plans/1/approve", 422, "revision", json={"signature": signature()}, headers=engineer)
    blank = signature(signature_png(drawn=False))
    body = await refused(
        service, "/plans/2/approve", 422, "signature.image", json={"signature": blank}, headers=engineer
    )
    assert "empty" in body["detail"]
    white = signature(opaque_blank_png())
    await refused(service, "/plans/2/approve", 422, "signature.image", json={"signature": white}, headers=engineer)
    large = noise_png(MAX_IMAGE_BYTES + 50_000)
    assert len(large) > MAX_IMAGE_BYTES
    body = await refused(
        service, "/plans/2/approve", 422, "signature.image", json={"signature": signature(large)}, headers=engineer
    )
    assert "200 kB" in body["detail"]
    jpeg = {"signer": SIGNER, "image": "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ=="}
    await refused(service, "/plans/2/approve", 422, "signature.image", json={"signature": jpeg}, headers=engineer)
    not_png = {"signer": SIGNER, "image": data_url(b"GIF89a not a png at all")}
    await refused(service, "/plans/2/approve", 422, "signature.image", json={"signature": not_png}, headers=engineer)
    cut = {"signer": SIGNER, "image": data_url(signature_png()[:60])}
    await refused(service, "/plans/2/approve", 422, "signature.image", json={"signature": cut}, headers=engineer)
    other = service.auth("ENG-999")
    await refused(service, "/plans/2/approve", 403, None, json={"signature": signature()}, headers=other)

    # Signed on the engineer's phone: approved and signed in one transaction.
    drawn = signature_png()
    approved = await client.post(
        f"/work-orders/{job}/plans/2/approve", json={"signature": signature(drawn)}, headers=engineer
    )
    assert approved.status_code == 200, approved.text
    order = approved.json()
    assert order["status"] == "plan_approved"
    assert order["plans"][-1]["decided_by"] == SIGNER
    [plan_signature] = order["signatures"]
    events = await service.published(6)
    assert service.types()[-2:] == ["plan_approved", "signed"]
    signed = events[-1]
    assert signed.correlationid == events[-2].correlationid
    stored = from_document(service.db.work_orders.find_one({"_id": job}))
    assert signed.data.signed_for == "plan_approval"
    assert signed.data.plan_revision == 2
    assert signed.data.signer.name == SIGNER["name"]
    assert signed.data.collected_by.engineer_id == "ENG-014"
    assert signed.data.content_sha256 == content_sha256(plan_facts(job, stored.plan(2)))
    assert plan_signature["content_sha256"] == signed.data.content_sha256
    assert plan_signature["signature_id"] == signed.data.signature_id
    assert signed.data.image.object_key == f"{job}/signatures/{signed.data.signature_id}.png"
    image = stored_image(service, signed)
    assert image == drawn
    assert signed.data.image.sha256 == hashlib.sha256(drawn).hexdigest()
    assert signed.data.image.size_bytes == len(drawn)
    assert signed.data.image.content_type == "image/png"

    # The work: not accepted before its inspection passed.
    assert (await client.post(f"/work-orders/{job}/work/start", headers=engineer)).status_code == 200
    await do_all_steps(service)
    completed = await client.post(
        f"/work-orders/{job}/work/complete",
        json={
            "parts_used": [{"part_number": "1622-3600-00", "quantity": 1}],
            "labour_hours": 2.5,
            "repair_method": "Replaced the thermostatic valve element.",
        },
        headers=engineer,
    )
    assert completed.status_code == 200, completed.text
    await refused(service, "/signatures", 409, "status", json=signature(), headers=engineer)

    passed = service.inspection_passed(1)
    await service.publish(passed, passed)  # redelivered: recorded once

    async def inspected():
        doc = service.db.work_orders.find_one({"_id": job})
        return doc if doc.get("inspection_passed") else None

    doc = await eventually(inspected, timeout=30)
    assert doc["inspection_passed"]["round"] == 1

    await refused(service, "/signatures", 422, "image", json=blank, headers=engineer)
    await refused(service, "/signatures", 422, "round", json={**signature(), "round": 2}, headers=engineer)
    await refused(service, "/signatures", 403, None, json=signature(), headers=other)
    await refused(service, "/signatures", 403, None, json=signature(), headers=service.customer)

    accepted_by = {"name": "Encik Faizal Hassan", "role": "Plant manager"}
    accepted = await client.post(
        f"/work-orders/{job}/signatures", json={**signature(signer=accepted_by), "round": 1}, headers=engineer
    )
    assert accepted.status_code == 201, accepted.text
    assert [s["signed_for"] for s in accepted.json()["signatures"]] == ["plan_approval", "work_acceptance"]

    async def acceptance_published():
        events = await service.published(len(service.captured))
        return next((e for e in events if e.routing_key == "job.signed.v1" and e.data.round == 1), None)

    signed = await eventually(acceptance_published, timeout=30)
    events = list(service.captured)
    assert service.types().count("signed") == 2
    assert signed.data.signed_for == "work_acceptance"
    assert signed.data.round == 1
    assert signed.data.signer.name == accepted_by["name"]
    stored = from_document(service.db.work_orders.find_one({"_id": job}))
    assert signed.data.content_sha256 == content_sha256(work_facts(stored, 1))
    assert hashlib.sha256(stored_image(service, signed)).hexdigest() == signed.data.image.sha256
    assert service.signature_images() == sorted(
        [e.data.image.object_key for e in events if e.routing_key == "job.signed.v1"]
    )

    # Once only.
    await refused(service, "/signatures", 409, "round", json=signature(), headers=engineer)
