"""A machine's QR label in a real browser: reception prints a site's label sheet from the customer file,
the URL read from the sheet's QR code is opened on a phone by someone not signed in (in Malay, as their
browser asks), who reports a fault (a refusal beside its field first, what was typed kept); reception
confirms it on the fault reports page and lands on the new job, and job.requested is published once,
on the portal channel. The scan page never shows the customer's name or site; the limits per machine
and per address answer 429 with Retry-After."""

from __future__ import annotations

import io
import uuid

import httpx
import pypdf
import pypdfium2
import zxingcpp
from console_service.scan import domain

from compressor_kit.testing.browser import assert_accessible, assert_clean, assert_fits, person_page, screenshot
from compressor_kit.testing.browser import sign_in as provider_sign_in
from compressor_kit.testing.watcher import EventWatcher

from .site import PASSWORD, PUBLIC_URL, console_site

CUSTOMER = "Kilang Beras Sekinchan Sdn Bhd"
SITE = "Sekinchan mill"
FAULT = "Bunyi ketukan kuat dari pemampat sejak pagi tadi; tekanan jatuh."


def test_the_fault_form_is_checked_as_typed_in_the_readers_words():
    body, errors = domain.report_body(
        {"reporter_name": " Hafiz ", "reporter_phone": "012-345 6789", "description": " x "}
    )
    assert errors == {} and body == {"reporter_name": "Hafiz", "reporter_phone": "012-345 6789", "description": "x"}
    _, errors = domain.report_body({"reporter_name": "", "reporter_phone": "+44 20 7946 0958", "description": ""})
    assert set(errors) == {"reporter_name", "reporter_phone", "description"}
    assert domain.malaysian_phone("+60 3-5544 3322") == "+60355443322"
    assert domain.refused_fields({"reporter_phone": "x", "label_id": "y"}) == {
        "reporter_phone": domain.MESSAGES["reporter_phone"]
    }
    assert domain.retry_minutes("61") == 2 and domain.retry_minutes(None) == 1


def _qr_codes(pdf: bytes) -> list[str]:
    """The QR codes on the sheet, read from its pages rendered as images (as a phone camera would)."""
    codes = []
    for page in pypdfium2.PdfDocument(pdf):
        codes += [c.text for c in zxingcpp.read_barcodes(page.render(scale=4).to_pil())]
    return codes


async def _customer_with_two_machines(intake_url: str, token: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    tag = uuid.uuid4().hex[:6].upper()
    async with httpx.AsyncClient(base_url=intake_url, headers=headers, timeout=30) as client:
        contact = {"name": "Rosnah binti Ali", "phone": "+60 3-3241 0000", "email": "rosnah@kbs.example"}
        customer = (await client.post("/customers", json={"name": CUSTOMER, "contacts": [contact]})).json()
        site = {
            "name": SITE,
            "address": "Lot 5, Jalan Tali Air 3",
            "city": "Sekinchan",
            "country": "MY",
            "region": "central",
        }
        site_id = (await client.post(f"/customers/{customer['customer_id']}/sites", json=site)).json()["site_id"]
        units = {}
        for serial in (f"API-{tag}-1", f"API-{tag}-2"):
            unit = {
                "site_id": site_id,
                "model_code": "AC-GA37VSD",
                "serial_number": serial,
                "purchase_date": "2022-01-10",
            }
            answer = await client.post(f"/customers/{customer['customer_id']}/equipment", json=unit)
            assert answer.status_code == 201, answer.text
            units[serial] = answer.json()["label_id"]
            units[f"equipment:{serial}"] = answer.json()["equipment_id"]
    return {"customer_id": customer["customer_id"], "site_id": site_id, **units}


async def test_a_scanned_label_reports_a_fault_that_reception_confirms(
    test_settings, identity_provider, database_prefix, tokens, chromium, desktop_page, phone_page, tmp_path
):
    amqp_url = test_settings.rabbitmq_url.get_secret_value()
    async with (
        EventWatcher(amqp_url) as watcher,
        console_site(test_settings, database_prefix, ("intake",), tmp_path) as site,
    ):
        reception_token = tokens.mint("STAFF-REC-1", ["reception"], name="Aisyah binti Hassan")
        file = await _customer_with_two_machines(site.service_url("intake"), reception_token)
        customer_id = file["customer_id"]
        (first_serial, first_label), (second_serial, second_label) = [
            (serial, label) for serial, label in file.items() if serial.startswith("API-")
        ]

        # Reception prints the site's labels from the customer file.
        desk = desktop_page
        await site.sign_in(desk, "aisyah", f"/reception/customers/{customer_id}")
        link = desk.get_by_role("link", name="Print the QR labels of this site (PDF)")
        sheet = await desk.request.get(site.url + await link.get_attribute("href"))
        assert sheet.status == 200 and sheet.headers["content-type"] == "application/pdf"
        pdf = await sheet.body()
        text = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
        assert first_serial in text and second_serial in text and SITE in text and "Scan for service" in text
        codes = _qr_codes(pdf)
        assert sorted(codes) == sorted(f"{PUBLIC_URL}/m/{label}" for label in (first_label, second_label))
        scanned = next(code for code in codes if code.endswith(first_label))
        await desk.goto(scanned)  # the scan page on a desktop, as staff (not the machine's customer): the form
        await desk.get_by_role("heading", name="Atlas Copco GA 37 VSD+").wait_for()
        await assert_fits(desk)
        await screenshot(desk, "scan-machine")

        # Someone at the machine scans it: a phone, not signed in, its browser asking for Malay.
        phone = phone_page
        await phone.context.set_extra_http_headers({"Accept-Language": "ms-MY,ms;q=0.9,en;q=0.5"})
        await site.route_public_url(phone)
        await phone.goto(scanned)
        await phone.get_by_role("heading", name="Atlas Copco GA 37 VSD+").wait_for()
        shown = await phone.locator("main").inner_text()
        assert first_serial in shown and "Laporkan kerosakan" in shown
        assert CUSTOMER not in shown and SITE not in shown and "Rosnah" not in shown
        await assert_accessible(phone)
        await assert_fits(phone)
        await screenshot(phone, "scan-machine")

        # A phone number that is not Malaysian: refused beside its field, what was typed kept.
        await phone.get_by_label("Nama anda").fill("Hafiz bin Osman")
        await phone.get_by_label("Nombor telefon anda").fill("+44 20 7946 0958")
        await phone.get_by_label("Apakah masalahnya?").fill(FAULT)
        async with phone.expect_response(lambda r: r.request.method == "POST") as sent:
            await phone.get_by_role("button", name="Hantar laporan").click()
        assert (await sent.value).status == 422
        assert await phone.locator("#reporter_phone").get_attribute("aria-invalid") == "true"
        assert "012-345 6789" in await phone.locator("#reporter_phone-error").inner_text()
        assert await phone.get_by_label("Nama anda").input_value() == "Hafiz bin Osman"
        assert await phone.get_by_label("Apakah masalahnya?").input_value() == FAULT
        await screenshot(phone, "scan-refused")

        await phone.get_by_label("Nombor telefon anda").fill("012-345 6789")
        await phone.get_by_role("button", name="Hantar laporan").click()
        await phone.get_by_role("heading", name="Terima kasih: laporan anda telah diterima").wait_for()
        reference = (await phone.get_by_role("status").inner_text()).rsplit(" ", 1)[-1]
        assert reference.startswith("FR-")
        await assert_accessible(phone)
        assert_clean(phone, allow=("status of 422",))
        await screenshot(phone, "scan-reported")
        assert not [e for e in watcher.events if e.data.routing_key() == "job.requested.v1"], (
            "requested before confirmed"
        )

        # The limits: three reports per machine an hour (intake), five per address (the console).
        form = {"reporter_name": "Hafiz", "reporter_phone": "0123456789", "description": "Bocor angin."}
        for _ in range(2):
            assert (await phone.request.post(f"{site.url}/m/{first_label}", form=form)).status == 200
        machine_full = await phone.request.post(f"{site.url}/m/{first_label}", form=form)
        assert machine_full.status == 429 and int(machine_full.headers["retry-after"]) > 0
        assert "minit" in await machine_full.text() and "Bocor angin." in await machine_full.text()
        for _ in range(2):
            assert (await phone.request.post(f"{site.url}/m/{second_label}", form=form)).status == 200
        address_full = await phone.request.post(f"{site.url}/m/{second_label}", form=form)
        assert address_full.status == 429 and int(address_full.headers["retry-after"]) > 0
        unknown = await phone.request.get(f"{site.url}/m/{'C' * 24}")
        assert unknown.status == 404

        # Reception confirms the report: on to the new job; job.requested once, on the portal channel.
        await desk.goto(f"{site.url}/reception/fault-reports")
        card = desk.locator("li.fault-report").filter(has_text=FAULT)
        await card.wait_for()
        card_text = await card.inner_text()
        assert "Hafiz bin Osman" in card_text and "+60123456789" in card_text and CUSTOMER in card_text
        await assert_accessible(desk)
        await assert_fits(desk)
        await screenshot(desk, "reception-fault-reports")
        await card.get_by_role("button", name="Confirm: record the request").click()
        await desk.wait_for_url(f"{site.url}/jobs/JOB-**")
        job_id = desk.url.rsplit("/", 1)[-1]
        requested = await watcher.wait_for(job_id, "job.requested.v1")
        assert requested.data.channel == "portal" and requested.data.origin_reference == reference
        assert requested.data.contact.name == "Rosnah binti Ali"
        assert [e.data.origin_reference for e in watcher.events if e.data.routing_key() == "job.requested.v1"] == [
            reference
        ]
        # The confirmed report is gone from the list; sending its form again confirms nothing twice.
        await desk.goto(f"{site.url}/reception/fault-reports")
        assert await desk.locator("li.fault-report").filter(has_text=FAULT).count() == 0

        # Reception on a phone: the rest of the reports, readable.
        await site.sign_in(phone, "aisyah", "/reception/fault-reports")
        await phone.locator("li.fault-report").first.wait_for()
        await assert_fits(phone)
        await screenshot(phone, "reception-fault-reports")

        # The machine's own customer scans the label signed in: the open job, and a request for service
        # with the machine chosen in the portal, instead of the fault form.
        username = await identity_provider.register(customer_id, ["customer"], name="Rosnah binti Ali")
        try:
            async with person_page(chromium, "phone") as owner:
                await site.route_public_url(owner)
                await owner.goto(f"{site.url}/m/{first_label}")
                await owner.get_by_role("link", name="Sign in to request service").click()
                await provider_sign_in(owner, username, PASSWORD)
                await owner.wait_for_url(f"{site.url}/m/{first_label}")
                request_link = owner.locator(
                    f'a[href="/portal/requests/new?equipment={file["equipment:" + first_serial]}"]'
                )
                await request_link.wait_for()
                assert await owner.locator(f'a[href="/portal/jobs/{job_id}"]').count() == 1
                assert await owner.locator("#reporter_name").count() == 0
                await assert_accessible(owner)
                await assert_fits(owner)
                await screenshot(owner, "scan-owner")
        finally:
            # Removed here, in the test's own event loop (the fixture's teardown runs in another).
            await identity_provider.remove_registered()
