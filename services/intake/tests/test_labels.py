"""QR labels and the fault reports they take, against the real servers: every unit's label id is
unguessable and unique; a site's sheet carries each machine's model, serial and the QR code of its scan
page (read back from the rendered PDF); anyone may report a fault at a machine, within the machine's
limit, and nothing is requested until reception confirms it (one job.requested, channel portal) or
dismisses it; a customer prints and sees only its own machines."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

import pypdf
import pypdfium2
import pytest
import zxingcpp
from pymongo.errors import DuplicateKeyError

from compressor_kit.testing.harness import running_service
from intake_service.app import SERVICE
from intake_service.customer_file.domain import new_label_id
from intake_service.fault_reports.domain import malaysian_phone
from intake_service.labels.domain import plausible_label_id, scan_url

from .intake_support import SITE, data_of, events_until, fields_of, open_file, problem

REPORT = {
    "reporter_name": "Hafiz bin Osman",
    "reporter_phone": "012-345 6789",
    "description": "Loud knocking from the compressor since this morning; the pressure drops.",
}


def test_a_label_id_is_random_url_safe_and_long_enough_not_to_be_guessed():
    ids = {new_label_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 24 and plausible_label_id(i) for i in ids)  # 18 random bytes: 144 bits
    assert not plausible_label_id("API123456") and not plausible_label_id("EQ-5D0E8B7A1C92")
    assert scan_url("https://service.example.my/", "abc") == "https://service.example.my/m/abc"


def test_a_reporters_phone_is_a_malaysian_number_in_e164():
    assert malaysian_phone("012-345 6789") == "+60123456789"
    assert malaysian_phone("+60 12-345 6789") == "+60123456789"
    assert malaysian_phone("0060 3-5544 3322") == "+60355443322"
    assert malaysian_phone("011-1234 5678") == "+601112345678"
    for wrong in ("12345", "+44 20 7946 0958", "+60 0123", "call me", ""):
        assert malaysian_phone(wrong) is None, wrong


def _qr_codes(pdf: bytes) -> list[str]:
    """Every QR code on every page, read from the page rendered as an image (as a phone camera would)."""
    found = []
    document = pypdfium2.PdfDocument(pdf)
    for page in document:
        image = page.render(scale=4).to_pil()
        found += [code.text for code in zxingcpp.read_barcodes(image) if code.format == zxingcpp.BarcodeFormat.QRCode]
    return found


async def test_every_machine_has_a_unique_label_and_its_sites_sheet_carries_it(client, people, intake, test_db):
    file = await open_file(client, people.reception, serial="API123456")
    second = {
        "site_id": file.site_id,
        "model_code": "KS-ASD40",
        "serial_number": "KSR-1180",
        "purchase_date": "2024-02-01",
    }
    added = await client.post(f"/customers/{file.customer_id}/equipment", json=second, headers=people.reception)
    assert added.status_code == 201, added.text
    units = [
        (await client.get(f"/equipment/{equipment_id}", headers=people.reception)).json()
        for equipment_id in (file.equipment_id, added.json()["equipment_id"])
    ]
    labels = [unit["label_id"] for unit in units]
    assert len(set(labels)) == 2 and all(plausible_label_id(label) for label in labels)
    for unit in units:
        for known in (unit["serial_number"], unit["customer_id"], unit["equipment_id"]):
            assert known not in unit["label_id"]
    with pytest.raises(DuplicateKeyError):  # the unique index: a label names one unit
        test_db.equipment.update_one({"_id": units[1]["equipment_id"]}, {"$set": {"label_id": labels[0]}})

    # Anyone who scans it learns what is printed on the label, nothing more.
    scanned = await client.get(f"/labels/{labels[0]}")
    assert scanned.status_code == 200
    assert scanned.json() == {
        "label_id": labels[0],
        "brand": "Atlas Copco",
        "model": "GA 37 VSD+",
        "serial_number": "API123456",
    }
    for unknown in ("A" * 24, "API123456", file.equipment_id):
        assert (await client.get(f"/labels/{unknown}")).status_code == 404

    sheet = await client.get(f"/customers/{file.customer_id}/sites/{file.site_id}/labels", headers=people.reception)
    assert sheet.status_code == 200 and sheet.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(sheet.content)).pages)
    for expected in ("GA 37 VSD+", "API123456", "KSR-1180", "Atlas Copco", "Kaeser", SITE["name"]):
        assert expected in text, expected
    assert "Imbas untuk servis /" in text and "Scan for service" in text
    console = intake.settings.console_public_url.rstrip("/")
    assert sorted(_qr_codes(sheet.content)) == sorted(f"{console}/m/{label}" for label in labels)

    # The customer prints its own site's sheet; another customer gets 403, a site of another file 404.
    own = await client.get(
        f"/customers/{file.customer_id}/sites/{file.site_id}/labels", headers=people.customer(file.customer_id)
    )
    assert own.status_code == 200 and own.content.startswith(b"%PDF")
    other = await open_file(client, people.reception, serial="OTHER-1")
    refused = await client.get(
        f"/customers/{file.customer_id}/sites/{file.site_id}/labels", headers=people.customer(other.customer_id)
    )
    assert refused.status_code == 403, refused.text
    elsewhere = await client.get(
        f"/customers/{other.customer_id}/sites/{file.site_id}/labels", headers=people.customer(other.customer_id)
    )
    assert elsewhere.status_code == 404 and fields_of(elsewhere) == {"site_id"}
    assert (
        await client.get(f"/labels/{labels[0]}/equipment", headers=people.customer(other.customer_id))
    ).status_code == 403
    mine = await client.get(f"/labels/{labels[0]}/equipment", headers=people.customer(file.customer_id))
    assert mine.status_code == 200 and mine.json()["equipment_id"] == file.equipment_id


async def test_units_filed_before_labels_get_one_at_start_up_once(client, people, settings, clock, test_db):
    file = await open_file(client, people.reception)
    test_db.equipment.update_one({"_id": file.equipment_id}, {"$unset": {"label_id": ""}})

    async def labelled_at_start_up() -> str:
        async with running_service(SERVICE, settings, clock=clock):  # another replica starting
            for _ in range(200):
                unit = test_db.equipment.find_one({"_id": file.equipment_id})
                if unit.get("label_id"):
                    return str(unit["label_id"])
                await asyncio.sleep(0.05)
        raise AssertionError("no label id given at start-up")

    given = await labelled_at_start_up()
    assert plausible_label_id(given)
    assert await labelled_at_start_up() == given  # idempotent: a unit keeps its label
    # A unit that has none is given one by its site's sheet as well.
    test_db.equipment.update_one({"_id": file.equipment_id}, {"$unset": {"label_id": ""}})
    sheet = await client.get(f"/customers/{file.customer_id}/sites/{file.site_id}/labels", headers=people.manager)
    assert sheet.status_code == 200
    assert plausible_label_id(test_db.equipment.find_one({"_id": file.equipment_id})["label_id"])


async def test_a_fault_report_waits_for_reception_within_the_machines_limit(client, people, events, clock, test_db):
    file = await open_file(client, people.reception)
    label = (await client.get(f"/equipment/{file.equipment_id}", headers=people.reception)).json()["label_id"]
    url = f"/labels/{label}/fault-reports"

    wrong = await client.post(url, json={**REPORT, "reporter_phone": "12345", "reporter_name": " "})
    assert wrong.status_code == 422 and fields_of(wrong) == {"reporter_phone", "reporter_name"}
    assert (await client.post("/labels/" + "B" * 24 + "/fault-reports", json=REPORT)).status_code == 404

    # Open to anyone: no token. The answer says nothing of the customer.
    receipts = []
    for _ in range(3):
        sent = await client.post(url, json=REPORT)
        assert sent.status_code == 201, sent.text
        receipts.append(sent.json())
        clock.advance(timedelta(minutes=1))
    assert set(receipts[0]) == {"fault_report_id", "status", "reported_at"}
    assert receipts[0]["status"] == "awaiting_confirmation"

    # The fourth within the hour: 429 with Retry-After, nothing kept.
    clock.advance(timedelta(minutes=7))
    over = await client.post(url, json=REPORT)
    assert over.status_code == 429, over.text
    assert 0 < int(over.headers["Retry-After"]) <= 3600
    assert "try again later" in problem(over)["detail"]
    assert test_db.fault_reports.count_documents({"equipment_id": file.equipment_id}) == 3
    clock.advance(timedelta(hours=1))  # the next hour: taken again
    assert (await client.post(url, json=REPORT)).status_code == 201

    # Reception sees them, oldest first, with the machine and its customer.
    listed = await client.get("/fault-reports", headers=people.reception)
    assert listed.status_code == 200 and listed.json()["total"] == 4
    first = listed.json()["items"][0]
    assert first["fault_report_id"] == receipts[0]["fault_report_id"]
    assert first["reporter_phone"] == "+60123456789" and first["customer_name"] == "Seri Murni Foods Sdn Bhd"
    assert first["machine"]["serial_number"] == "API123456" and first["site_name"] == SITE["name"]
    assert (await client.get("/fault-reports", headers=people.customer(file.customer_id))).status_code == 403

    # Confirmed: one job.requested, channel portal, naming the report; the main contact; nothing before.
    report_id = receipts[0]["fault_report_id"]
    confirmed = await client.post(f"/fault-reports/{report_id}/confirm", json={}, headers=people.reception)
    assert confirmed.status_code == 200, confirmed.text
    job_id = confirmed.json()["job_id"]
    assert confirmed.json()["status"] == "confirmed" and confirmed.json()["decided_by"]["role"] == "reception"
    [requested] = await events_until(events, "job.requested.v1", job_id)
    data = data_of(requested)
    assert data["channel"] == "portal" and data["origin_reference"] == report_id
    assert data["contact"]["name"] == "Aminah binti Rahman" and data["equipment"]["equipment_id"] == file.equipment_id
    assert REPORT["description"] in data["fault_description"] and "Hafiz bin Osman" in data["fault_description"]

    # Once: confirming or dismissing it again is refused, and publishes nothing.
    again = await client.post(f"/fault-reports/{report_id}/confirm", json={}, headers=people.reception)
    assert again.status_code == 409 and fields_of(again) == {"fault_report_id"}
    assert (
        await client.post(f"/fault-reports/{report_id}/dismiss", json={"reason": "dup"}, headers=people.manager)
    ).status_code == 409

    # Dismissed with a reason (one is needed): no request.
    second = receipts[1]["fault_report_id"]
    no_reason = await client.post(f"/fault-reports/{second}/dismiss", json={"reason": " "}, headers=people.reception)
    assert no_reason.status_code == 422 and fields_of(no_reason) == {"reason"}
    dismissed = await client.post(
        f"/fault-reports/{second}/dismiss",
        json={"reason": "Same fault as the confirmed one."},
        headers=people.reception,
    )
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    assert dismissed.json()["job_id"] is None
    # Reception gives another contact for the third.
    third = receipts[2]["fault_report_id"]
    other_contact = {"contact": {"name": "Hafiz bin Osman", "phone": "+60123456789"}, "priority": "high"}
    with_contact = await client.post(f"/fault-reports/{third}/confirm", json=other_contact, headers=people.manager)
    assert with_contact.status_code == 200, with_contact.text
    [third_job] = await events_until(events, "job.requested.v1", with_contact.json()["job_id"])
    assert data_of(third_job)["contact"]["name"] == "Hafiz bin Osman" and data_of(third_job)["priority"] == "high"

    # The owner sees the open jobs of the machine it scanned.
    mine = await client.get(f"/labels/{label}/equipment", headers=people.customer(file.customer_id))
    assert {job["job_id"] for job in mine.json()["open_jobs"]} == {job_id, with_contact.json()["job_id"]}
    awaiting = await client.get("/fault-reports", headers=people.reception)
    assert awaiting.json()["total"] == 1
