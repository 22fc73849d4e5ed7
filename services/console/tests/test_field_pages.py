"""The engineer's field pages (phases 2-3): my jobs today and the job hub, in a real phone browser against
intake, dispatch and maintenance as processes; and the pure rules behind them (next step, urgency,
the forms' bodies)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from console_service.field import domain
from PIL import Image
from playwright.async_api import Page, Request

from compressor_kit.settings import Settings
from compressor_kit.testing import eventually
from compressor_kit.testing.browser import assert_accessible, assert_clean, assert_fits, person_page, screenshot
from demo.flow import Office, open_customer_file

from . import steps_field
from .site import ConsoleSite, console_site

KL = ZoneInfo("Asia/Kuala_Lumpur")
NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


# --- the rules, in process -------------------------------------------------------------------------


def _job(**changes: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "job_id": "JOB-1",
        "status": "assigned",
        "priority": "normal",
        "requested_at": "2030-01-07T08:00:00Z",
        "engineer": {"engineer_id": "ENG-001", "name": "Lim"},
        "prediagnosis": None,
        "dispatch": None,
        "sla": {
            "arrive_by": {"due_at": "2030-01-07T16:00:00Z", "at_risk_at": "2030-01-07T14:00:00Z", "met_at": None},
            "resolve_by": {"due_at": "2030-01-09T08:00:00Z", "at_risk_at": "2030-01-08T20:00:00Z", "met_at": None},
        },
    }
    return job | changes


def test_the_next_step_follows_dispatch_and_then_the_work_order():
    def stage(job: dict[str, Any], order_status: str | None = None) -> str:
        return domain.stage_of(job, {"status": order_status} if order_status else None).key

    assert stage(_job()) == "prediagnose"
    assert stage(_job(status="prediagnosed", prediagnosis={"x": 1}), "open") == "depart"
    departed = _job(status="dispatched", prediagnosis={"x": 1}, dispatch={"eta": "2030-01-07T10:00:00Z"})
    assert stage(departed, "open") == "arrive"
    assert stage(departed) == "arrive"  # maintenance has not heard yet: arrival is still next
    assert stage(departed, "on_site") == "diagnose"
    diagnosed = domain.stage_of(departed, {"status": "diagnosed"})
    assert (diagnosed.key, diagnosed.href) == ("plan", "/field/jobs/JOB-1/plan")
    assert domain.stage_of(departed, {"status": "rework"}).href == "/field/jobs/JOB-1/work"
    assert stage(departed, "awaiting_inspection") == "inspection"
    assert (
        domain.stage_of(_job(status="resolved"), {"status": "awaiting_inspection"}).href == "/field/jobs/JOB-1/review"
    )
    assert stage(_job(status="cancelled")) == "cancelled"


def test_my_jobs_put_breached_then_at_risk_then_priority_first_and_leave_out_cancelled():
    calm = _job(job_id="CALM", priority="critical")
    low_at_risk = _job(job_id="RISK", priority="low")
    low_at_risk["sla"]["arrive_by"]["at_risk_at"] = "2030-01-07T08:30:00Z"
    breached = _job(job_id="LATE", priority="low")
    breached["sla"]["arrive_by"]["due_at"] = "2030-01-07T08:59:00Z"
    done = _job(job_id="DONE", priority="critical", status="resolved")
    gone = _job(job_id="GONE", status="cancelled")
    cards = domain.my_jobs([done, calm, gone, low_at_risk, breached], [], NOW)
    assert [c.job["job_id"] for c in cards] == ["LATE", "RISK", "CALM", "DONE"]
    assert [c.sla for c in cards][:3] == ["breached", "at_risk", "on_track"]


def test_the_commitment_is_read_in_the_engineers_zone_and_the_sla_limits_shown_in_it():
    form = {
        "contacted_via": "phone",
        "confirmed_symptoms": "Trips on high discharge temperature\n\n Oil visibly dark ",
        "suspected_causes": "Thermostatic valve stuck",
        "likely_parts.0.part_number": "1622-3600-00",
        "likely_parts.0.description": "Thermostatic valve kit",
        "likely_parts.0.quantity": "1",
        "commitment.arrive_by": "2030-01-07T22:00",
        "commitment.resolve_by": "2030-01-08T10:30",
    }
    body, errors = domain.prediagnosis_body(form, KL)
    assert errors == {}
    assert body["confirmed_symptoms"] == ["Trips on high discharge temperature", "Oil visibly dark"]
    assert body["commitment"] == {"arrive_by": "2030-01-07T14:00:00+00:00", "resolve_by": "2030-01-08T02:30:00+00:00"}
    assert body["likely_parts"] == [
        {"part_number": "1622-3600-00", "description": "Thermostatic valve kit", "quantity": 1.0}
    ]
    limits = domain.limits_of(_job(), KL, NOW)
    assert (limits.arrive_by, limits.arrive_hours, limits.now) == ("2030-01-08T00:00", "8 h", "2030-01-07T17:00")
    assert (limits.resolve_by, limits.resolve_hours) == ("2030-01-09T16:00", "48 h")

    _, refused = domain.prediagnosis_body({"commitment.arrive_by": "tomorrow"}, KL)
    assert set(refused) == {"confirmed_symptoms", "suspected_causes", "commitment.arrive_by", "commitment.resolve_by"}


def test_api_refusals_land_beside_the_inputs_that_caused_them():
    shown = domain.field_errors(
        {"confirmed_symptoms.2": "too long", "photo_keys.0": "not uploaded", "commitment.arrive_by": "outside"}
    )
    assert shown == {
        "confirmed_symptoms": "Line 3: too long",
        "photos": "not uploaded",
        "commitment.arrive_by": "outside",
    }
    body, errors = domain.diagnosis_body(
        {"measurements.1.name": "Discharge", "measurements.1.value": "1o", "measurements.1.unit": "°C"}, []
    )
    assert errors == {"measurements.1.value": "A number, e.g. 109.5."}
    assert len(body["measurements"]) == 1


# --- in the browser ----------------------------------------------------------------------------


async def _raise_job_for_lim(site: ConsoleSite, provider: Any, settings: Settings) -> str:
    """run_job's phase 1 through the APIs: reception records the call, the dispatcher makes sure Lim
    (ENG-001) has it."""
    dispatcher = (await provider.sign_in("daniel")).access_token
    dispatch = site.service_url("dispatch")
    async with httpx.AsyncClient(timeout=15) as http:
        reception = Office(site.stack.urls(), http, settings).reception
        customer_id, site_id, equipment_id = await open_customer_file(reception, datetime.now(UTC).strftime("%H%M%S%f"))
        # The customer's photo of the fault, e-mailed to reception, goes with the request (the hub shows it).
        upload = await reception.post(
            "intake",
            "/requests/photos",
            {"file_name": "display.jpg", "content_type": "image/jpeg", "customer_id": customer_id},
        )
        image = io.BytesIO()
        Image.new("RGB", (120, 90), (200, 60, 40)).save(image, format="JPEG")
        stored = await http.post(
            upload["upload_url"], data=upload["fields"], files={"file": ("display.jpg", image.getvalue(), "image/jpeg")}
        )
        assert stored.status_code == 204, stored.text
        request = await reception.post(
            "intake",
            "/requests",
            {
                "channel": "phone",
                "priority": "high",
                "customer_id": customer_id,
                "site_id": site_id,
                "equipment_id": equipment_id,
                "fault_description": "Trips on high discharge temperature after about 40 minutes of running.",
                "photo_keys": [upload["photo_key"]],
            },
        )
        job_id = str(request["job_id"])
        as_dispatcher = {"Authorization": f"Bearer {dispatcher}"}

        async def lims() -> bool:
            response = await http.get(f"{dispatch}/jobs/{job_id}", headers=as_dispatcher)
            if response.status_code != 200:
                return False
            job = response.json()
            if (job.get("engineer") or {}).get("engineer_id") == "ENG-001":
                return True
            await http.post(
                f"{dispatch}/jobs/{job_id}/assignment",
                json={"engineer_id": "ENG-001", "reason": "Lim takes it on call."},
                headers=as_dispatcher,
            )
            return False

        await eventually(lims, timeout=30, interval=0.3)
    return job_id


async def _status_of(page: Page, url: str) -> int:
    response = await page.goto(url)
    assert response is not None
    return response.status


async def test_an_engineer_commits_within_the_sla_departs_arrives_and_diagnoses_with_a_photo_on_a_phone(
    test_settings, identity_provider, database_prefix, chromium, desktop_page, phone_page, tmp_path
):
    services = ("intake", "dispatch", "maintenance")
    async with console_site(test_settings, database_prefix, services, tmp_path / "logs") as site:
        job_id = await _raise_job_for_lim(site, identity_provider, test_settings)
        phone = phone_page
        uploads: list[str] = []

        def record_upload(request: Request) -> None:
            if request.method == "POST":  # the upload form, posted to the object store
                uploads.append(request.url)

        phone.on("request", record_upload)

        # My jobs today: the job, with its next step; a tap opens its hub.
        await site.sign_in(phone, "lim", "/field")
        card = phone.locator("li.field-job").filter(has_text=job_id)
        await card.get_by_text("Call the customer: pre-diagnosis and commitment").wait_for()
        await assert_fits(phone)
        await assert_accessible(phone)
        await screenshot(phone, "field-jobs")
        await card.locator("a").click()
        await phone.wait_for_url(f"{site.url}/field/jobs/{job_id}")
        await phone.get_by_text("SLA policy for a high job").wait_for()
        await phone.get_by_text("Seri Murni Foods").first.wait_for()
        # The customer's photo of the fault, a thumbnail loaded from intake's bucket through a presigned link.
        thumbnail = phone.locator(".request-photos img")
        await thumbnail.wait_for()
        assert await thumbnail.count() == 1
        await eventually(lambda: thumbnail.evaluate("img => img.complete && img.naturalWidth === 120"), timeout=10)

        # A commitment outside the SLA: warned while typed, refused by dispatch beside its field, kept.
        limit = await phone.locator("#commitment-arrive_by").get_attribute("data-sla-max")
        assert limit
        too_late = (datetime.fromisoformat(limit) + timedelta(hours=2)).strftime(steps_field.LOCAL)
        resolve = (datetime.fromisoformat(limit) + timedelta(hours=4)).strftime(steps_field.LOCAL)
        await steps_field.fill_prediagnosis(phone, too_late, resolve)
        warning = phone.locator("#commitment-arrive_by-warning")
        assert "Outside the SLA policy" in await warning.inner_text()
        await assert_fits(phone)
        await screenshot(phone, "field-job-commitment-warned")
        async with phone.expect_response(f"{site.url}/field/jobs/{job_id}/prediagnosis") as refused:
            await phone.get_by_role("button", name="Record and commit").click()
        assert (await refused.value).status == 422
        error = phone.locator("#commitment-arrive_by-error")
        assert "outside the SLA policy" in await error.inner_text()
        assert await phone.locator("#commitment-arrive_by").get_attribute("aria-invalid") == "true"
        assert await phone.locator("#commitment-arrive_by").input_value() == too_late
        assert await phone.get_by_label("Confirmed symptoms").input_value() == "\n".join(steps_field.SYMPTOMS)
        assert await phone.locator("#likely_parts-0-part_number").input_value() == steps_field.PART[0]
        await assert_fits(phone)
        await assert_accessible(phone)
        await screenshot(phone, "field-job-commitment-refused")

        # Within the SLA: recorded; then on the way, on site, and the diagnosis with a real photo.
        await steps_field.prediagnose(phone, site, job_id)
        assert "Pre-diagnosis and commitment recorded" in await phone.get_by_role("status").first.inner_text()
        await screenshot(phone, "field-job-depart")
        await steps_field.depart(phone, site, job_id)
        await steps_field.arrive(phone, site, job_id)
        await steps_field.open_job(phone, site, job_id, "Diagnose")
        await assert_fits(phone)
        await assert_accessible(phone)
        await screenshot(phone, "field-job-diagnose")
        photo = tmp_path / "valve.jpg"
        photo.write_bytes(b"\xff\xd8\xff\xe0" + b"a photo of the thermostatic valve" + b"\xff\xd9")
        await steps_field.diagnose(phone, site, job_id, photo_path=photo)
        await phone.get_by_role("link", name="Propose the maintenance plan").wait_for()
        assert await phone.get_by_role("link", name="Propose the maintenance plan").get_attribute("href") == (
            f"/field/jobs/{job_id}/plan"
        )
        await phone.get_by_text("Thermostatic valve stuck open, bypassing the oil cooler").wait_for()
        await assert_fits(phone)
        await screenshot(phone, "field-job-diagnosed")
        assert_clean(phone, allow=("status of 422",))

        # The photo went from the phone straight to the object store, and maintenance lists it.
        assert [u for u in uploads if u.startswith(f"http://{test_settings.s3_endpoint}/")], uploads
        lim = (await identity_provider.sign_in("lim")).access_token
        async with httpx.AsyncClient(timeout=15, headers={"Authorization": f"Bearer {lim}"}) as http:
            listed = await http.get(f"{site.service_url('maintenance')}/work-orders/{job_id}/photos")
            assert listed.status_code == 200, listed.text
            photos = listed.json()
            assert len(photos) == 1 and photos[0]["photo_key"].endswith("-valve.jpg"), photos
            stored = await http.get(photos[0]["download_url"], headers={"Authorization": ""})
            assert stored.content == photo.read_bytes()
            order = (await http.get(f"{site.service_url('maintenance')}/work-orders/{job_id}")).json()
            assert order["status"] == "diagnosed"
            assert [m["name"] for m in order["diagnosis"]["measurements"]] == [m[0] for m in steps_field.MEASUREMENTS]

        # On a desktop too; another engineer and another role are refused.
        await site.sign_in(desktop_page, "lim", "/field")
        await desktop_page.locator("li.field-job").filter(has_text=job_id).wait_for()
        await screenshot(desktop_page, "field-jobs")
        await desktop_page.goto(f"{site.url}/field/jobs/{job_id}")
        await desktop_page.get_by_text("Recorded so far").wait_for()
        await assert_accessible(desktop_page)
        await screenshot(desktop_page, "field-job-diagnosed")

        # Another engineer and another role, each in a browser of their own.
        async with person_page(chromium, "desktop") as other:
            await site.sign_in(other, "nurul", "/field")
            assert await _status_of(other, f"{site.url}/field/jobs/{job_id}") == 403
            await other.get_by_text("assigned to another engineer").wait_for()
            assert not await other.locator("form[action$='/diagnosis']").count()
            await other.goto(f"{site.url}/field")
            await other.get_by_role("heading", name="My jobs today").wait_for()
            assert not await other.locator("li.field-job").filter(has_text=job_id).count()
        async with person_page(chromium, "desktop") as reception:
            await site.sign_in(reception, "aisyah", "/reception")
            assert await _status_of(reception, f"{site.url}/field/jobs/{job_id}") == 403
            await reception.get_by_role("heading", name="This page is not available to you").wait_for()
            assert await _status_of(reception, f"{site.url}/field") == 403


async def test_my_jobs_say_when_maintenance_is_unavailable_and_the_rest_still_works(
    test_settings, identity_provider, database_prefix, phone_page, tmp_path
):
    env = {"MAINTENANCE_URL": "http://127.0.0.1:9"}  # nothing listens there
    async with console_site(test_settings, database_prefix, ("dispatch",), tmp_path / "logs", env) as site:
        await site.sign_in(phone_page, "lim", "/field")
        await phone_page.get_by_role("heading", name="My jobs today").wait_for()
        await phone_page.get_by_text("Maintenance is unavailable just now").wait_for()
        await phone_page.get_by_text("No jobs assigned to you right now.").wait_for()
        await assert_fits(phone_page)
        await assert_accessible(phone_page)
        assert_clean(phone_page)
        await screenshot(phone_page, "field-jobs-maintenance-down")
