"""The report as a customer reads it, against the real RabbitMQ, MongoDB, object store and identity
provider: in the contact's language (Bahasa Melayu here) with English a click away, each signature
shown with its image, its signer and the time, a signature given after publishing as a new version,
and no link to another customer's report."""

import hashlib
import io
import math
from datetime import timedelta

import httpx
import pypdfium2
from litestar.testing import AsyncTestClient
from PIL import Image, ImageDraw
from pypdf import PdfReader

from compressor_contracts import StoredObject
from compressor_contracts.common import Language
from compressor_kit.http import create_app
from compressor_kit.objectstore import ObjectStore
from compressor_kit.runtime import Runtime
from compressor_kit.testing import eventually
from compressor_kit.testing.events import EventTap, publish_events
from reporting_service.app import SERVICE
from reporting_service.records import domain, publisher, store
from reporting_service.records.pdf import render_report

from .reporting_story import Job, settings_for

REPORT_PUBLISHED = "job.report_published.v1"
SIGNATURES = "signatures"  # maintenance's bucket (the same store, the deployment's prefix)
CUSTOMER = "CUST-DEMO-0001"  # aminah's company in the provider's seed; kumar's is CUST-DEMO-0002


def signature_png(size: tuple[int, int] = (600, 200)) -> bytes:
    """A drawn signature as the signing pad sends it: dark strokes on a transparent background."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    stroke = [(40 + x, 100 + 45 * math.sin(x / 23) * math.exp(-x / 500)) for x in range(0, size[0] - 80, 3)]
    pen.line(stroke, fill=(20, 30, 90, 255), width=5)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def kept_signature(objects: ObjectStore, key: str, png: bytes) -> StoredObject:
    await objects.put_bytes(SIGNATURES, key, png, "image/png")
    return StoredObject(
        bucket=objects.bucket(SIGNATURES),
        object_key=key,
        sha256=hashlib.sha256(png).hexdigest(),
        size_bytes=len(png),
        content_type="image/png",
    )


def text_of(pdf: bytes) -> str:
    """The PDF's words, with the lines a table cell wraps joined again."""
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def images_of(pdf: bytes) -> list[tuple[int, int]]:
    return [image.image.size for page in PdfReader(io.BytesIO(pdf)).pages for image in page.images]


async def test_a_malay_contacts_report_is_in_malay_signed_with_english_on_demand_and_only_for_its_customer(
    test_settings, test_db, identity_provider, tmp_path
):
    url = test_settings.rabbitmq_url.get_secret_value()
    settings = settings_for(test_settings)
    signatures = ObjectStore(settings, [SIGNATURES])
    await signatures.ensure_buckets()
    approval_png, acceptance_png = signature_png((600, 200)), signature_png((480, 180))
    job = Job("JOB-L-1", customer_id=CUSTOMER, language=Language.MS, malay=True)
    events = job.build()
    approval = job.signed(
        await kept_signature(signatures, "signatures/JOB-L-1/P1.png", approval_png),
        hours=6.1,
        plan_revision=1,
        signer="Encik Faizal Hassan",
        role="Pengurus Loji",
    )
    # The work is accepted once its inspection passed: after version 1 is published.
    acceptance = job.signed(
        await kept_signature(signatures, "signatures/JOB-L-1/W2.png", acceptance_png),
        hours=(job.passed_at - job.start + timedelta(minutes=20)).total_seconds() / 3600,
        round=2,
        signer="Puan Siti Aminah binti Ismail",
        role="Jurutera Kilang",
    )
    aminah = {"Authorization": f"Bearer {(await identity_provider.sign_in('aminah')).access_token}"}
    kumar = {"Authorization": f"Bearer {(await identity_provider.sign_in('kumar')).access_token}"}
    app = create_app(SERVICE, settings)
    async with AsyncTestClient(app) as client, EventTap(url, REPORT_PUBLISHED) as tap:
        # The plan was approved hours before the pass: in the timeline before version 1 falls due.
        *before_the_pass, passed = events
        await publish_events(url, *before_the_pass, approval)

        async def in_the_timeline():
            return test_db.timeline_events.count_documents({"job_id": job.job_id}) == len(events)

        await eventually(in_the_timeline, timeout=30)
        await publish_events(url, passed)
        [first] = await tap.take(1, timeout=30)
        await publish_events(url, acceptance)
        [second] = await tap.take(1, timeout=30)

        malay_link = await client.get(f"/jobs/{job.job_id}/report-link", headers=aminah)
        english_link = await client.get(f"/jobs/{job.job_id}/report-link?language=en", headers=aminah)
        first_english = await client.get(f"/jobs/{job.job_id}/report-link?language=en&version=1", headers=aminah)
        record = await client.get(f"/jobs/{job.job_id}/record", headers=aminah)
        other_customer_link = await client.get(f"/jobs/{job.job_id}/report-link", headers=kumar)
        other_customer_record = await client.get(f"/jobs/{job.job_id}/record?version=1", headers=kumar)
        unknown_language = await client.get(f"/jobs/{job.job_id}/report-link?language=fr", headers=aminah)
        malay_pdf = httpx.get(malay_link.json()["url"]).content
        english_pdf = httpx.get(english_link.json()["url"]).content
        first_english_pdf = httpx.get(first_english.json()["url"]).content
        stored = test_db.records.find_one({"job_id": job.job_id, "version": 2})

    # The contact prefers Malay: that is the report job.report_published names (the e-mail's).
    assert passed.type.endswith("job.inspection_passed.v1")
    assert first.data.record_version == 1 and "/v1/ms/" in first.data.report.object_key
    assert second.data.record_version == 2 and "/v2/ms/" in second.data.report.object_key
    assert malay_link.status_code == 200, malay_link.text
    assert malay_link.json()["language"] == "ms" and malay_link.json()["version"] == 2
    assert malay_link.json()["sha256"] == second.data.report.sha256 == hashlib.sha256(malay_pdf).hexdigest()
    assert english_link.json()["language"] == "en"
    assert english_link.json()["sha256"] == hashlib.sha256(english_pdf).hexdigest()
    assert record.json()["signature_added"]["signer"]["name"] == "Puan Siti Aminah binti Ismail"
    assert [s["image_verified"] for s in record.json()["content"]["signatures"]] == [True, True]

    malay = text_of(malay_pdf)
    for words in (
        "Laporan Penyelenggaraan",
        "Ringkasan kerja servis",
        "tarikh servis 3 Mac 2026",  # the pass at 18:30 UTC on 2 March is 3 March in Malaysia
        "Waktu Malaysia",
        "Putuskan bekalan elektrik",  # the plan's Malay step
        "Suhu nyahcas",  # the indicator's Malay name
        "Tindakan pembetulan: Periksa injap termostatik",  # the failed round's Malay corrective action
        "Pusingan 2 (kerja semula)",
        "5.5 jam",
        "Komitmen perkhidmatan",
        "Tandatangan",
        "Penandatangan",
        "Encik Faizal Hassan",
        "Kelulusan pelan penyelenggaraan (semakan 1)",
        "Puan Siti Aminah binti Ismail",
        "Jurutera Kilang",
        "Penerimaan kerja yang telah dilaksanakan (pusingan 2)",
        "Versi ini menambah tandatangan Puan Siti Aminah binti Ismail.",
    ):
        assert words in malay, words
    for english_word in ("Maintenance report", "Signatures", "Isolate electrical supply", "March", "5.5 h"):
        assert english_word not in malay, english_word

    english = text_of(english_pdf)
    for words in (
        "Maintenance report",
        "service date 3 March 2026",
        "Isolate electrical supply",
        "Discharge temperature",
        "Corrective action: Check the thermostatic valve",
        "Signatures",
        "Signer",
        "Puan Siti Aminah binti Ismail",
        "Acceptance of the work done (round 2)",
    ):
        assert words in english, words
    assert "Laporan" not in english and "Tandatangan" not in english

    # Each signature's own image is in the PDF.
    assert sorted(images_of(malay_pdf)) == [(480, 180), (600, 200)]
    assert sorted(images_of(english_pdf)) == [(480, 180), (600, 200)]
    # Version 1 was published before the work was accepted: the plan approval only.
    version_one = text_of(first_english_pdf)
    assert "Encik Faizal Hassan" in version_one and "Puan Siti Aminah" not in version_one
    assert images_of(first_english_pdf) == [(600, 200)]

    # Same record version and language, same bytes.
    images = {approval.data.signature_id: approval_png, acceptance.data.signature_id: acceptance_png}
    assert render_report(stored, Language.MS, images) == malay_pdf

    # Another customer's report: refused, with their own provider token.
    assert other_customer_link.status_code == 403 and other_customer_record.status_code == 403
    assert unknown_language.status_code == 400 and "language" in unknown_language.text

    # Kept with the test's files, to be read as the customer reads them.
    (tmp_path / "report-ms.pdf").write_bytes(malay_pdf)
    (tmp_path / "report-en.pdf").write_bytes(english_pdf)
    # Page 1 as a person sees it: rendered, and not a blank page.
    page = pypdfium2.PdfDocument(malay_pdf)[0].render(scale=0.5).to_pil().convert("L")
    page.save(tmp_path / "report-ms-p1.png")
    assert page.getextrema()[0] < 100  # dark text on it


async def test_a_signature_arriving_while_a_version_is_rendered_holds_its_publication_and_images_are_checked(
    test_settings, test_db
):
    settings = settings_for(test_settings)
    objects = ObjectStore(settings, [SIGNATURES])
    await objects.ensure_buckets()
    png = signature_png((300, 120))
    good = await kept_signature(objects, "signatures/J/good.png", png)
    tampered = good.model_copy(update={"object_key": "signatures/J/tampered.png"})
    await objects.put_bytes(SIGNATURES, tampered.object_key, png + b"changed", "image/png")
    missing = good.model_copy(update={"object_key": "signatures/J/never-stored.png"})
    runtime = Runtime(SERVICE, settings)  # its store functions, in this test's loop; nothing consumes or publishes
    try:
        shown = await publisher.signature_images(
            runtime,
            [
                {"signature_id": "GOOD", "image": good.model_dump()},
                {"signature_id": "TAMPERED", "image": tampered.model_dump()},
                {"signature_id": "MISSING", "image": missing.model_dump()},
            ],
        )

        # A pending version nobody can publish yet (no timeline), as the publisher holds it.
        record_id = domain.record_id_for("JOB-L-2")
        pending = {
            "_id": domain.version_id(record_id, 1),
            "record_id": record_id,
            "version": 1,
            "job_id": "JOB-L-2",
            "status": domain.PENDING,
            "created_at": runtime.clock.now(),
        }
        test_db.records.insert_one(pending)
        signature = {"signature_id": "SIG-LATE", "signed_for": "work_acceptance", "signer": {"name": "A", "role": "B"}}

        async def signed(uow):
            await store.signature_arrived(uow, "JOB-L-2", signature, runtime.clock.now())

        await runtime.outbox.transact(signed)

        async def publish(shown_signatures):
            content = {"signatures": [{"signature_id": s} for s in shown_signatures]}
            return await runtime.outbox.transact(
                lambda uow: store.mark_published(uow, pending["_id"], {"content": content})
            )

        rendered_without_it = await publish([])
        rendered_with_it = await publish(["SIG-LATE"])

        # Once published, a signature it does not show makes a new version that shows it.
        await runtime.outbox.transact(
            lambda uow: store.signature_arrived(
                uow, "JOB-L-2", {**signature, "signature_id": "SIG-LATER"}, runtime.clock.now()
            )
        )
        await runtime.outbox.transact(signed)  # the same signature again changes nothing
    finally:
        await runtime.mongo.close()
        await runtime.http.aclose()

    assert set(shown) == {"GOOD"} and shown["GOOD"] == png
    assert rendered_without_it is False and rendered_with_it is True
    versions = list(test_db.records.find({"job_id": "JOB-L-2"}, sort=[("version", 1)]))
    assert [(v["version"], v["status"]) for v in versions] == [(1, "published"), (2, "pending")]
    assert versions[1]["signature_added"]["signature_id"] == "SIG-LATER"
