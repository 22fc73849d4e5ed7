"""Reception's pages in a real browser against intake (and reporting for the job page): taking a call
from a new customer to the job's page, the customer file, call-backs, a refusal beside its field, a
double submission recording one request, and the pages closed to other roles."""

from __future__ import annotations

import asyncio
import re

from console_service.reception import domain
from playwright.async_api import Page

from compressor_kit.testing.browser import assert_accessible, assert_clean, assert_fits, screenshot

from .site import ConsoleSite, console_site
from .steps_reception import (
    FAULT,
    add_compressor,
    add_site,
    describe_call,
    find_customer,
    record_callback,
    take_call_in_full,
)


def test_a_phone_number_finds_its_customer_in_international_or_local_form():
    customers = [
        {"customer_id": "C1", "contacts": [{"name": "A", "phone": "+60123456789"}]},
        {
            "customer_id": "C2",
            "contacts": [{"name": "B", "email": "b@example.com"}, {"name": "C", "phone": "+6035544332"}],
        },
    ]
    assert domain.is_phone_query("012-345 6789") and domain.is_phone_query("+60 12-345 6789")
    assert not domain.is_phone_query("Seri Murni") and not domain.is_phone_query("12")
    for typed in ("+60 12-345 6789", "012-345 6789", "345 6789"):
        assert [c["customer_id"] for c in domain.customers_with_phone(customers, typed)] == ["C1"], typed
    assert [c["customer_id"] for c in domain.customers_with_phone(customers, "03-5544 332")] == ["C2"]
    assert domain.customers_with_phone(customers, "+61 12-345 6789") == []


def test_the_call_names_the_site_of_the_chosen_unit_and_refusals_land_beside_the_inputs():
    file = {"sites": [{"site_id": "S1", "equipment": [{"equipment_id": "E1"}]}, {"site_id": "S2", "equipment": []}]}
    body, errors = domain.request_body(
        {"equipment_id": "E1", "fault_description": " Trips ", "priority": "high", "channel": "phone"}, "C1", file
    )
    assert errors == {}
    assert body == {
        "channel": "phone",
        "priority": "high",
        "customer_id": "C1",
        "site_id": "S1",
        "equipment_id": "E1",
        "fault_description": "Trips",
    }
    _, errors = domain.request_body({"equipment_id": "E9", "fault_description": ""}, "C1", file)
    assert set(errors) == {"equipment_id", "fault_description"}
    _, errors = domain.equipment_body(
        {
            "site_id": "S1",
            "model_code": "M",
            "serial_number": "X",
            "purchase_date": "2021-06-14",
            "running_hours": "lots",
        }
    )
    assert errors == {"running_hours": "a whole number"}
    shown = domain.field_errors({"contacts[0].phone": "not a phone number", "site_id": "not here"})
    assert shown == {"contacts.0.phone": "not a phone number", "site_id": "not here", "equipment_id": "not here"}
    assert domain.refusal_message("raw", {"contacts.0.phone": "x"}, domain.CUSTOMER_FIELDS) != "raw"
    assert domain.refusal_message("raw", {"customer_id": "x"}, domain.CALL_FIELDS) == "raw"


async def _looked_at(page: Page, name: str, allow: tuple[str, ...] = ()) -> None:
    """The page is whole, accessible, fits its screen, and its screenshot is taken."""
    await assert_accessible(page)
    await assert_fits(page)
    assert_clean(page, allow=allow)
    await screenshot(page, name)


async def _screens_of_a_call(page: Page, site: ConsoleSite, prefix: str, customer_id: str, name: str) -> None:
    await find_customer(page, site, name)
    assert await page.get_by_role("link", name=f"Take the call for {name}").is_visible()
    await _looked_at(page, f"{prefix}-search")
    await page.goto(f"{site.url}/reception/customers/new")
    await _looked_at(page, f"{prefix}-customer-new")
    await page.goto(f"{site.url}/reception/customers/{customer_id}/sites/new")
    await _looked_at(page, f"{prefix}-site-new")
    await page.goto(f"{site.url}/reception/customers/{customer_id}/equipment/new")
    await _looked_at(page, f"{prefix}-equipment-new")
    await page.goto(f"{site.url}/reception/customers/{customer_id}/call")
    await _looked_at(page, f"{prefix}-call")
    await page.goto(f"{site.url}/reception/customers/{customer_id}")
    await _looked_at(page, f"{prefix}-customer-file")


async def test_reception_takes_a_call_from_a_new_customer_to_the_job_page(
    test_settings, identity_provider, database_prefix, desktop_page, phone_page, tmp_path
):
    async with console_site(test_settings, database_prefix, ("intake", "reporting"), tmp_path) as site:
        page = desktop_page
        await site.sign_in(page, "aisyah", "/reception")
        await page.get_by_role("heading", name="Take a call").wait_for()
        await _looked_at(page, "reception-take-a-call")

        call = await take_call_in_full(page, site, language="ms")
        assert re.fullmatch(r"JOB-[A-Z0-9-]+", call.job_id), call.job_id
        await page.get_by_role("heading", name=call.job_id).wait_for()

        # The customer file: the unit with its next service due, and the open job the call opened.
        await page.goto(f"{site.url}/reception/customers/{call.customer_id}")
        await page.get_by_role("heading", name=call.customer_name).wait_for()
        open_jobs = page.locator("ul.jobs li")
        assert await open_jobs.count() == 1
        job_line = await open_jobs.first.inner_text()
        assert call.job_id in job_line and FAULT in job_line and "high" in job_line.lower()
        # The contact's preferred language, chosen on the new customer's form, is on file.
        contacts = await page.locator("section[aria-labelledby=contacts-title]").inner_text()
        assert "Aminah binti Rahman" in contacts and "Bahasa Melayu" in contacts
        unit = await page.locator("article.unit").inner_text()
        assert call.serial_number in unit and "Next service due" in unit and "23,410" in unit

        # Found again by phone, as the customer calls in local form.
        await find_customer(page, site, "012-345 6789")
        assert await page.get_by_role("link", name=call.customer_name, exact=True).is_visible()

        await _screens_of_a_call(page, site, "reception", call.customer_id, call.customer_name)
        await site.sign_in(phone_page, "aisyah", "/reception")
        await _screens_of_a_call(phone_page, site, "reception", call.customer_id, call.customer_name)


async def test_a_refusal_shows_beside_its_field_and_a_double_submission_records_one_request(
    test_settings, identity_provider, database_prefix, desktop_page, phone_page, tmp_path
):
    async with console_site(test_settings, database_prefix, ("intake",), tmp_path) as site:
        page = desktop_page
        await site.sign_in(page, "aisyah", "/reception/customers/new")

        # Intake refuses the phone number: its message is beside the phone field, what was typed is kept.
        await page.locator("#name").fill("Kedai Angin Mampat")
        await page.locator("#contacts-0-name").fill("Farid Ismail")
        await page.locator("#contacts-0-phone").fill("12345")
        async with page.expect_response(lambda r: r.request.method == "POST") as sent:
            await page.get_by_role("button", name="Open the customer file").click()
        assert (await sent.value).status == 422
        phone = page.locator("#contacts-0-phone")
        assert await phone.input_value() == "12345"
        assert await phone.get_attribute("aria-invalid") == "true"
        error = page.locator("#contacts-0-phone-error")
        assert "international form" in (await error.inner_text())
        assert "fields marked below" in await page.get_by_role("alert").first.inner_text()
        assert await page.locator("#name").input_value() == "Kedai Angin Mampat"
        assert await page.locator("#contacts-0-name").input_value() == "Farid Ismail"
        await _looked_at(page, "reception-refusal", allow=("status of 422",))

        # Corrected, the same form goes through.
        await phone.fill("+60 3-5544 3322")
        await page.get_by_role("button", name="Open the customer file").click()
        await page.wait_for_url(re.compile(r".*/sites/new$"))
        customer_id = page.url.split("/reception/customers/")[1].split("/")[0]
        await add_site(page, site)
        await add_compressor(page, site, "KAM0001")
        await describe_call(page, site, fault="Oil carry-over into the air line since Monday.", priority="normal")

        # The same form sent twice at once (a double click): both land on one job, one request recorded.
        form = page.locator("form.card")
        fields = await form.evaluate("f => Object.fromEntries(new FormData(f))")
        action = f"{site.url}/reception/customers/{customer_id}/call"
        first, second = await asyncio.gather(
            page.request.post(action, form=fields, max_redirects=0),
            page.request.post(action, form=fields, max_redirects=0),
        )
        assert first.status == second.status == 303
        assert first.headers["location"] == second.headers["location"]
        assert re.fullmatch(r"/jobs/JOB-[A-Z0-9-]+", first.headers["location"])
        # And once more through the browser, with the same key: still the one job.
        await page.get_by_role("button", name="Record the request").click()
        await page.wait_for_url(f"{site.url}{first.headers['location']}")
        await page.goto(f"{site.url}/reception/customers/{customer_id}")
        assert await page.locator("ul.jobs li").count() == 1

        # Pages of the front desk are closed to an inspector.
        await site.sign_in(phone_page, "meiling", "/")
        for path in ("/reception", "/reception/callbacks", f"/reception/customers/{customer_id}"):
            response = await phone_page.goto(f"{site.url}{path}")
            assert response is not None and response.status == 403, path
        assert await phone_page.get_by_role("link", name="Take a call").count() == 0


async def test_a_callback_reporting_a_problem_raises_a_request(
    test_settings, identity_provider, database_prefix, desktop_page, phone_page, tmp_path
):
    async with console_site(test_settings, database_prefix, ("intake",), tmp_path) as site:
        page = desktop_page
        await site.sign_in(page, "aisyah", "/reception")
        call = await take_call_in_full(page, site)

        # A satisfied customer: recorded, no request.
        assert (
            await record_callback(page, site, call.customer_name, "Running fine since the visit.", problem=False)
        ) is None
        recorded = page.locator(".callback.just-recorded")
        assert "Running fine since the visit." in await recorded.inner_text()
        assert await recorded.get_by_text("Raised").count() == 0

        # A problem: the call-back raises a request (channel callback) and opens its job.
        raised = await record_callback(
            page,
            site,
            call.customer_name,
            "Since the visit the dryer alarm comes on every morning.",
            problem=True,
            previous_job_id=call.job_id,
            priority="high",
        )
        assert raised and raised != call.job_id
        await page.goto(f"{site.url}/reception/callbacks?outcome=problem_reported")
        item = page.locator(".callback-list li").first
        text = await item.inner_text()
        assert raised in text and call.customer_name in text and f"after {call.job_id}" in text
        await page.goto(f"{site.url}/reception/customers/{call.customer_id}")
        assert await page.locator("ul.jobs li").count() == 2

        await page.goto(f"{site.url}/reception/callbacks")
        await _looked_at(page, "reception-callbacks")
        await page.goto(f"{site.url}/reception/callbacks?customer_id={call.customer_id}")
        await _looked_at(page, "reception-callback-form")
        await site.sign_in(phone_page, "aisyah", "/reception/callbacks")
        await _looked_at(phone_page, "reception-callbacks")
        await phone_page.goto(f"{site.url}/reception/callbacks?customer_id={call.customer_id}")
        await _looked_at(phone_page, "reception-callback-form")


async def test_an_intake_that_cannot_be_reached_is_said_on_reception_pages(
    test_settings, identity_provider, database_prefix, desktop_page, tmp_path
):
    gone = {"INTAKE_URL": "http://127.0.0.1:9"}  # nothing listens there
    async with console_site(test_settings, database_prefix, (), tmp_path, env=gone) as site:
        page = desktop_page
        await site.sign_in(page, "aisyah", "/reception?q=Seri")
        assert "unavailable" in await page.locator(".notice.unavailable").inner_text()
        response = await page.goto(f"{site.url}/reception/customers/CUST-0001")
        assert response is not None and response.status == 503
        assert "unavailable" in await page.locator(".notice.unavailable").inner_text()
        await page.goto(f"{site.url}/reception/callbacks")
        assert await page.get_by_role("heading", name="Recorded call-backs").is_visible()
        assert "unavailable" in await page.locator(".notice.unavailable").first.inner_text()
        await page.get_by_role("link", name="Job board").click()  # the rest of the console goes on
        await page.get_by_role("heading", name="Job board").wait_for()
