"""The customer signs on the engineer's phone: the plan approved on site with a drawn signature, then the
work accepted once its inspection passed. A real phone viewport (touch, 3x) draws with the pointer on
the canvas; job.signed is checked on the broker and the stored image against what the page sent.

The job reaches each moment the way test_repair_pages does it (diagnosed_job, steps_repair)."""

from __future__ import annotations

import base64
import hashlib

import httpx
from console_service.signing import domain
from playwright.async_api import Page, expect

from compressor_kit.objectstore import ObjectStore
from compressor_kit.testing.browser import assert_accessible, assert_clean, assert_fits, screenshot
from compressor_kit.testing.watcher import EventWatcher
from demo.flow import Office

from . import steps_repair
from .site import console_site
from .test_repair_pages import diagnosed_job, inspect

SERVICES = ("intake", "dispatch", "maintenance", "quality")
SIGNER = ("Encik Faizal Hassan", "Plant manager")


# --- the pure parts ----------------------------------------------------------------------------


def test_what_is_signed_follows_the_work_order():
    proposed = {
        "status": "plan_proposed",
        "plans": [{"revision": 1, "status": "superseded"}, {"revision": 2, "status": "proposed"}],
    }
    assert domain.to_sign(proposed) == domain.ToSign("plan_approval", plan=proposed["plans"][1])
    assert domain.to_sign({"status": "waiting_for_parts", "plans": [{"revision": 1, "status": "proposed"}]}) is None
    inspected = {"status": "awaiting_inspection", "inspection_passed": {"round": 2}, "signatures": []}
    assert domain.to_sign(inspected) == domain.ToSign("work_acceptance", round=2)
    accepted = {**inspected, "signatures": [{"signed_for": "work_acceptance", "round": 2}]}
    assert domain.to_sign(accepted) is None


def test_the_form_becomes_maintenances_request_and_its_refusals_land_beside_the_fields():
    form = {
        "signature.signer.name": " Faizal ",
        "signature.signer.role": "Plant manager",
        "signature.image": "data:image/png;base64,AAAA",
        "revision": "2",
        "round": "1",
        "comments": "",
    }
    path, body = domain.request_of("plan_approval", form)
    assert path == "/plans/2/approve"
    assert body == {
        "signature": {"signer": {"name": "Faizal", "role": "Plant manager"}, "image": form["signature.image"]}
    }
    path, body = domain.request_of("work_acceptance", form)
    assert (path, body["round"], body["signer"]["name"]) == ("/signatures", 1, "Faizal")
    assert domain.form_errors({"image": "empty", "signer.role": "x", "revision": "old"}) == {
        "signature.image": "empty",
        "signature.signer.role": "x",
        "revision": "old",
    }
    assert domain.form_errors({"signature": "must sign"}) == {"signature.image": "must sign"}
    assert set(domain.missing({"signature.signer.name": "A"})) == {"signature.signer.role", "signature.image"}


# --- on the phone ------------------------------------------------------------------------------


async def draw(page: Page) -> None:
    """A signature stroke with the pointer over the canvas, as a finger would."""
    canvas = page.locator("canvas.signature-canvas")
    await canvas.scroll_into_view_if_needed()
    box = await canvas.bounding_box()
    assert box is not None and box["width"] >= 280, box
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    await page.mouse.move(x + w * 0.1, y + h * 0.7)
    await page.mouse.down()
    for fx, fy in ((0.25, 0.25), (0.4, 0.75), (0.55, 0.3), (0.7, 0.7), (0.9, 0.35)):
        await page.mouse.move(x + w * fx, y + h * fy, steps=6)
    await page.mouse.up()
    await page.locator(".signature-state.signed").wait_for()


async def look(page: Page, name: str) -> None:
    await page.wait_for_load_state("load")
    await assert_fits(page)
    await assert_accessible(page)
    assert_clean(page, allow=("status of 422",))
    await screenshot(page, name)


def stored(settings, event) -> bytes:
    image = event.data.image
    response = ObjectStore(settings).client.get_object(image.bucket, image.object_key)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


async def sent_png(page: Page) -> bytes:
    url = await page.locator("input[name='signature.image']").input_value()
    assert url.startswith("data:image/png;base64,")
    return base64.b64decode(url.split(",", 1)[1])


async def test_the_customer_signs_the_plan_and_the_inspected_work_on_the_engineers_phone(
    test_settings, identity_provider, database_prefix, phone_page, tmp_path
):
    amqp_url = test_settings.rabbitmq_url.get_secret_value()
    async with (
        EventWatcher(amqp_url) as watcher,
        console_site(test_settings, database_prefix, SERVICES, tmp_path) as site,
        httpx.AsyncClient(timeout=30) as client,
    ):
        office = Office(site.stack.urls(), client, test_settings)
        job_id, engineer, _ = await diagnosed_job(office)
        phone = phone_page
        await site.sign_in(phone, engineer, f"/field/jobs/{job_id}/plan")
        await steps_repair.propose_plan(phone, site, job_id)

        # The plan page leads to the signing page: the plan, the signer, an empty box.
        await phone.get_by_role("link", name="The customer is on site: sign to approve").click()
        await phone.get_by_role("heading", name="The customer approves plan revision 1").wait_for()
        # A finger draws instead of scrolling the page (once the page's stylesheet has arrived).
        await expect(phone.locator("canvas.signature-canvas")).to_have_css("touch-action", "none")
        await look(phone, "sign-plan-before")

        # Sent without drawing: refused beside the box, the name typed kept.
        await phone.get_by_label("Signer's name").fill(SIGNER[0])
        await phone.get_by_label("Signer's role").fill(SIGNER[1])
        await phone.get_by_role("button", name="Approve the plan and sign").click()
        await phone.wait_for_load_state("load")
        assert "Sign in the box first" in await phone.locator("#signature-image-error").inner_text()
        assert await phone.get_by_label("Signer's name").input_value() == SIGNER[0]

        # Drawn with the pointer, sent: approved and signed.
        await draw(phone)
        await look(phone, "sign-plan-drawn")
        drawn = await sent_png(phone)
        await phone.get_by_role("button", name="Approve the plan and sign").click()
        await phone.get_by_text("Signed: the plan is approved").wait_for()
        signed = await watcher.wait_for(job_id, "job.signed.v1")
        await watcher.wait_for(job_id, "job.plan_approved.v1")
        assert signed.data.signed_for == "plan_approval" and signed.data.plan_revision == 1
        assert (signed.data.signer.name, signed.data.signer.role) == SIGNER
        assert signed.data.collected_by is not None  # signed on the engineer's phone
        assert stored(test_settings, signed) == drawn
        assert signed.data.image.sha256 == hashlib.sha256(drawn).hexdigest()
        assert "Plan revision 1 approved" in await phone.locator(".signatures").inner_text()
        await look(phone, "sign-plan-signed")

        # The work, inspected and passed: the work page leads to the acceptance.
        await steps_repair.work_round(phone, site, job_id, 1)
        assert (await inspect(office, job_id, 1, fail=False))["status"] == "passed"
        link = await steps_repair._reload_until(
            phone,
            f"{site.url}/field/jobs/{job_id}/work",
            lambda: phone.get_by_role("link", name="The customer signs to accept the work"),
            "the inspection to pass",
        )
        await link.click()
        await phone.get_by_role("heading", name="The customer accepts the work").wait_for()
        sign_url = phone.url
        await phone.goto(f"{sign_url}?lang=ms")  # the same page in Malay, as a Malaysian engineer reads it
        await phone.get_by_role("heading", name="Pelanggan menerima kerja").wait_for()
        assert "Lukis tandatangan" in await phone.locator(".signature-hint").inner_text()
        await look(phone, "sign-work-before-ms")
        await phone.goto(f"{sign_url}?lang=en")
        await phone.get_by_label("Signer's name").fill(SIGNER[0])
        await phone.get_by_label("Signer's role").fill(SIGNER[1])
        await draw(phone)
        await look(phone, "sign-work-drawn")
        drawn = await sent_png(phone)
        await phone.get_by_role("button", name="Accept the work and sign").click()
        await phone.get_by_text("Signed: the customer accepted the work").wait_for()
        accepted = await watcher.wait_for(job_id, "job.signed.v1", count=2)
        assert (accepted.data.signed_for, accepted.data.round) == ("work_acceptance", 1)
        assert stored(test_settings, accepted) == drawn
        assert accepted.data.content_sha256 != signed.data.content_sha256
        assert not watcher.invalid
        assert "Work of round 1 accepted" in await phone.locator(".signatures").inner_text()
        assert await phone.locator("form.sign-form").count() == 0
