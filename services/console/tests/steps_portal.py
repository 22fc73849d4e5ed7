"""The customer portal by clicking, and the staff's part of the job by API while the customer watches.

The customer's steps are what a person does in the portal (request service, follow the job, approve the
plan with a signature drawn on the canvas, download the report, answer the survey), in Malay: the texts
they look for are the portal's Malay ones. The staff's steps go through the services' public APIs, each
person with their own provider-issued token, with demo/flow.py's run_job data (the oil-circuit procedure,
its parts, the inspector's readings).
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from PIL import Image, ImageDraw
from playwright.async_api import FilePayload, Page

from compressor_kit.testing.browser import SCREENSHOTS, screenshot
from demo.flow import MODEL, PARTS, PROCEDURE, SITES, Office, _reading
from demo.people import Person, until

from .site import ConsoleSite

FAULT = "Pemampat berhenti sendiri selepas 40 minit; suhu nyahcas tinggi (110 °C)."
SIGNER_ROLE = "Ketua penyelenggaraan kilang"


# --- the staff, by API ---------------------------------------------------------------------------------


async def customer_who_prefers_malay(reception: Person, tag: str) -> tuple[str, str, str]:
    """Reception files a customer whose contact prefers Bahasa Melayu, their site and one compressor:
    (customer id, site id, equipment id)."""
    customer = await reception.post(
        "intake",
        "/customers",
        {
            "name": f"Syarikat Makanan Seri Murni Sdn Bhd ({tag})",
            "contacts": [
                {
                    "name": "Aminah binti Rahman",
                    "role": "Ketua penyelenggaraan kilang",
                    "phone": "+60 12-345 6789",
                    "email": f"aminah.{tag.lower()}@serimurni.example",
                    "language": "ms",
                }
            ],
        },
    )
    customer_id = customer["customer_id"]
    site = await reception.post(
        "intake", f"/customers/{customer_id}/sites", {**SITES["central"], "country": "MY", "region": "central"}
    )
    unit = await reception.post(
        "intake",
        f"/customers/{customer_id}/equipment",
        {
            "site_id": site["site_id"],
            "model_code": MODEL,
            "serial_number": f"POR{tag}",
            "purchase_date": "2021-06-14",
            "running_hours": 23410,
            "last_service_on": (date.today() - timedelta(days=40)).isoformat(),
            "last_service_hours": 22000,
        },
    )
    return customer_id, site["site_id"], unit["equipment_id"]


async def assign(office: Office, job_id: str, engineer_id: str = "ENG-001") -> None:
    """The dispatcher assigns the job by hand once it is in the unassigned queue."""

    async def unassigned() -> bool:
        response = await office.dispatcher.call("GET", "dispatch", f"/jobs/{job_id}", ok=(200, 404))
        return response.status_code == 200 and response.json().get("status") == "unassigned"

    await until(unassigned, what=f"{job_id} in the unassigned queue")
    await office.dispatcher.post(
        "dispatch",
        f"/jobs/{job_id}/assignment",
        {"engineer_id": engineer_id, "reason": "Lim covers the region this week."},
    )


async def prediagnose(engineer: Person, job_id: str) -> None:
    """The engineer's pre-diagnosis by phone and the commitment: on site within 6 h, resolved within 20 h."""
    now = datetime.now(UTC)
    await engineer.post(
        "dispatch",
        f"/jobs/{job_id}/prediagnosis",
        {
            "contacted_via": "phone",
            "confirmed_symptoms": ["Trips on high discharge temperature"],
            "suspected_causes": ["Thermostatic valve stuck"],
            "commitment": {
                "arrive_by": (now + timedelta(hours=6)).isoformat(),
                "resolve_by": (now + timedelta(hours=20)).isoformat(),
            },
        },
    )


async def depart(engineer: Person, job_id: str) -> None:
    """The engineer leaves for the site, expected in an hour."""
    await engineer.post(
        "dispatch", f"/jobs/{job_id}/departure", {"eta": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    )


async def arrive_diagnose_and_propose(engineer: Person, job_id: str) -> None:
    """On site: arrival, the diagnosis and the plan from the oil-circuit procedure."""

    async def opened() -> bool:
        order = await engineer.call("GET", "maintenance", f"/work-orders/{job_id}", ok=(200, 403, 404))
        return order.status_code == 200 and order.json()["status"] == "open"

    await until(opened, what=f"the work order of {job_id}")
    await engineer.post("maintenance", f"/work-orders/{job_id}/arrival")
    await engineer.post(
        "maintenance",
        f"/work-orders/{job_id}/diagnosis",
        {
            "measurements": [{"name": "Discharge temperature", "value": 110, "unit": "°C"}],
            "root_cause": "Thermostatic valve stuck open, bypassing the oil cooler",
            "scope": "Oil circuit only",
            "failure_category": "cooling",
        },
    )
    await engineer.post("maintenance", f"/work-orders/{job_id}/plans", {"procedure_id": PROCEDURE})


async def work_round(engineer: Person, job_id: str) -> int:
    """Round 1: every step of the approved plan (each reported to the customer), the parts and hours."""
    await engineer.post("maintenance", f"/work-orders/{job_id}/work/start")
    steps = 0
    while True:
        order = (await engineer.call("GET", "maintenance", f"/work-orders/{job_id}")).json()
        step = order.get("next_step")
        if not step:
            break
        await engineer.post("maintenance", f"/work-orders/{job_id}/steps/{step['sequence']}/complete")
        steps += 1
    await engineer.post(
        "maintenance",
        f"/work-orders/{job_id}/work/complete",
        {
            "labour_hours": 3.5,
            "repair_method": "Replaced the thermostatic valve element, oil and oil filter",
            "parts_used": [{"part_number": pn, "quantity": q} for pn, q in PARTS.items()],
        },
    )
    return steps


async def inspect(office: Office, job_id: str) -> dict[str, Any]:
    """The inspector records every reading within its limits: the inspection passes."""

    async def opened() -> dict[str, Any] | None:
        page = await office.inspector.get("quality", "/inspections", params={"job_id": job_id, "status": "open"})
        return next(iter(page["items"]), None)

    item = await until(opened, what=f"the inspection of {job_id}")
    inspection = await office.inspector.get("quality", f"/inspections/{item['inspection_id']}")
    measurements = [
        {"code": i["code"], "value": _reading(i, False), "unit": i["unit"]} for i in inspection["indicators"]
    ]
    return await office.inspector.post(
        "quality", f"/inspections/{item['inspection_id']}/results", {"measurements": measurements}
    )


# --- the customer, by clicking ---------------------------------------------------------------------------


def fault_photo() -> bytes:
    """A small JPEG, as a phone's camera would give (a grey panel with an amber alarm lamp)."""
    image = Image.new("RGB", (160, 120), (96, 104, 112))
    ImageDraw.Draw(image).ellipse((60, 40, 100, 80), fill=(240, 160, 0))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


async def request_service(page: Page, site: ConsoleSite) -> tuple[str, dict[str, str]]:
    """On the request form: the machine (the only one, already chosen), the fault, a photo of it (uploaded
    by the browser straight to intake's object store), Hantar permintaan; the new job's page. The job's id,
    and the form's fields as they were sent (its key and the photo's key included). First a photo key that is
    not this customer's upload (as a tampered form would send): intake refuses it, the page says so beside the
    photos, keeps the fault as typed, and nothing is recorded."""
    await page.get_by_label("Apakah masalahnya?").fill(FAULT)
    await page.eval_on_selector(
        "#photo-list",
        """list => { const key = document.createElement("input"); key.type = "hidden"; key.name = "photo_keys";
                    key.value = "CUST-SOMEONE-ELSE/0123456789abcdef-theirs.jpg"; list.appendChild(key); }""",
    )
    async with page.expect_navigation():
        await page.get_by_role("button", name="Hantar permintaan").click()
    await page.locator("#photo_keys-error").get_by_text("Foto tidak dapat dilampirkan").wait_for()
    assert await page.get_by_label("Apakah masalahnya?").input_value() == FAULT
    photo = FilePayload(name="paparan-penggera.jpg", mimeType="image/jpeg", buffer=fault_photo())
    await page.locator("#photo-input").set_input_files(files=[photo])
    await page.locator("#photo-list li[data-photo-key] input[name=photo_keys]").wait_for(state="attached")
    assert await page.locator("#photo-list li.failed").count() == 0, await page.locator("#photo-list").inner_text()
    await screenshot(page, "portal-request-photo")
    viewport = page.viewport_size
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.screenshot(path=SCREENSHOTS / "portal-request-photo-wide.png", full_page=True, scale="css")
    if viewport:
        await page.set_viewport_size(viewport)
    sent: dict[str, str] = await page.eval_on_selector(
        "form[action='/portal/requests']",
        "form => Object.fromEntries([...new FormData(form).entries()].map(([k, v]) => [k, String(v)]))",
    )
    async with page.expect_navigation():
        await page.get_by_role("button", name="Hantar permintaan").click()
    await page.get_by_text("Permintaan anda telah direkodkan").wait_for()
    return page.url.removeprefix(f"{site.url}/portal/jobs/").split("?")[0], sent


async def draw_signature(page: Page) -> None:
    """A signature drawn across the canvas with the pointer, as a finger would."""
    canvas = page.locator("canvas.signature-canvas")
    await canvas.scroll_into_view_if_needed()
    box = await canvas.bounding_box()
    assert box, "the signature canvas is not shown"
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    await page.mouse.move(x + w * 0.1, y + h * 0.7)
    await page.mouse.down()
    for fx, fy in ((0.25, 0.3), (0.4, 0.75), (0.55, 0.35), (0.7, 0.7), (0.85, 0.4)):
        await page.mouse.move(x + w * fx, y + h * fy, steps=6)
    await page.mouse.up()
    await page.get_by_text("Ditandatangani").first.wait_for()


async def approve_plan(page: Page, comment: str) -> None:
    """On the plan's page: the signer's role, the signature drawn, a comment, Luluskan pelan."""
    approve = page.locator("form.approve")
    await approve.get_by_label("Jawatan penandatangan").fill(SIGNER_ROLE)
    await draw_signature(page)
    await approve.get_by_label("Ulasan (pilihan)").fill(comment)
    async with page.expect_navigation():
        await approve.get_by_role("button", name="Luluskan pelan").click()
    await page.get_by_text("pelan telah diluluskan dan ditandatangani").wait_for()


async def answer_survey(page: Page) -> None:
    """On the survey's page: 5 for satisfaction, 9 for recommending, a comment, Hantar."""
    await page.locator("label.score:has(input[name=csat][value='5'])").click()
    await page.locator("label.score:has(input[name=nps][value='9'])").click()
    await page.get_by_label("Ulasan (pilihan)").fill("Kemas kini yang jelas pada setiap langkah. Terima kasih!")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Hantar").click()
    await page.get_by_text("Terima kasih kerana menjawab tinjauan").wait_for()
