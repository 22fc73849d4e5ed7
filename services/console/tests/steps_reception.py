"""Reception's part of the whole job (phase 1), clicked through the console as the reception specialist
would: demo/flow.py's run_job call, with its customer, site and compressor opened through the pages.

Each step takes a page already signed in as someone at the front desk (reception, manager or admin):
    await site.sign_in(page, "aisyah", "/reception")
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from playwright.async_api import Page

from .site import ConsoleSite

MODEL = "AC-GA37VSD"  # demo/flow.py's MODEL
FAULT = "Trips on high discharge temperature after about 40 minutes of running."


@dataclass(frozen=True)
class Call:
    """What the demo's call creates: the customer on file and the job its request opened."""

    job_id: str
    customer_id: str
    customer_name: str
    serial_number: str


def _customer_id(url: str) -> str:
    found = re.search(r"/reception/customers/([^/?#]+)", url)
    assert found, url
    return found.group(1)


async def open_customer(page: Page, site: ConsoleSite, tag: str, language: str | None = None) -> str:
    """Opens demo/flow.py's customer (Seri Murni Foods, Aminah its main contact, in `language` when
    given: 'ms' or 'en') from the search page; returns its customer id (the page is then the new site's form)."""
    await page.goto(f"{site.url}/reception")
    await page.get_by_role("link", name="New customer").click()
    await page.locator("#name").fill(f"Seri Murni Foods Sdn Bhd ({tag})")
    await page.locator("#contacts-0-name").fill("Aminah binti Rahman")
    await page.locator("#contacts-0-role").fill("Plant maintenance lead")
    await page.locator("#contacts-0-phone").fill("+60 12-345 6789")
    await page.locator("#contacts-0-email").fill(f"aminah.{tag.lower()}@serimurni.example")
    if language:
        await page.locator("#contacts-0-language").select_option(language)
    await page.get_by_role("button", name="Open the customer file").click()
    await page.wait_for_url(re.compile(r".*/reception/customers/[^/]+/sites/new$"))
    return _customer_id(page.url)


async def add_site(page: Page, site: ConsoleSite) -> None:
    """On the new site's form: demo/flow.py's Shah Alam plant 2 (region central); then the unit's form."""
    await page.locator("#name").fill("Shah Alam plant 2")
    await page.locator("#address").fill("Lot 12, Jalan Perusahaan 4, Seksyen 15")
    await page.locator("#city").fill("Shah Alam")
    await page.locator("#postal_code").fill("40200")
    await page.locator("#country").fill("MY")
    await page.locator("#region").fill("central")
    await page.get_by_role("button", name="Add the site").click()
    await page.wait_for_url(re.compile(r".*/equipment/new\?site_id=.+"))


async def add_compressor(page: Page, site: ConsoleSite, serial_number: str) -> None:
    """On the unit's form: demo/flow.py's GA37VSD (23,410 h, last serviced 40 days ago at 22,000 h);
    then the call's form with that unit chosen."""
    await page.locator("#model_code").select_option(MODEL)
    await page.locator("#serial_number").fill(serial_number)
    await page.locator("#purchase_date").fill("2021-06-14")
    await page.locator("#running_hours").fill("23410")
    await page.locator("#last_service_on").fill((date.today() - timedelta(days=40)).isoformat())
    await page.locator("#last_service_hours").fill("22000")
    await page.get_by_role("button", name="Add the compressor").click()
    await page.wait_for_url(re.compile(r".*/call\?equipment_id=.+"))


async def describe_call(page: Page, site: ConsoleSite, fault: str = FAULT, priority: str = "high") -> None:
    """On the call's form with the unit chosen: the fault, priority and channel (phone), not yet sent."""
    assert await page.locator("input[name=equipment_id]:checked").count() == 1, "no unit chosen"
    await page.get_by_label("What is wrong?").fill(fault)
    await page.get_by_label("Priority").select_option(priority)
    await page.get_by_label("Channel").select_option("phone")


async def send_call(page: Page, site: ConsoleSite) -> str:
    """Sends the call's form; returns the job id of the job page it lands on."""
    await page.get_by_role("button", name="Record the request").click()
    await page.wait_for_url(re.compile(r".*/jobs/[^/?#]+$"))
    return page.url.rsplit("/", 1)[1]


async def take_call_in_full(page: Page, site: ConsoleSite, number: int = 1, language: str | None = None) -> Call:
    """demo/flow.py's phase 1 through the pages: a new customer (its contact in `language`, when given),
    site and compressor, then the call (phone, high, the thermal trip); returns the job and what was put on file."""
    tag = uuid.uuid4().hex[:6].upper()
    customer_id = await open_customer(page, site, tag, language)
    await add_site(page, site)
    serial_number = f"API{tag}{number:04d}"
    await add_compressor(page, site, serial_number)
    await describe_call(page, site)
    job_id = await send_call(page, site)
    return Call(job_id, customer_id, f"Seri Murni Foods Sdn Bhd ({tag})", serial_number)


async def take_call(page: Page, site: ConsoleSite, number: int = 1) -> str:
    """demo/flow.py's phase 1 through the pages (new customer, site, compressor, the call); the job id."""
    return (await take_call_in_full(page, site, number)).job_id


async def find_customer(page: Page, site: ConsoleSite, query: str) -> None:
    """Searches the customers by name or phone on the take-a-call page."""
    await page.goto(f"{site.url}/reception")
    await page.get_by_label("Customer name or phone").fill(query)
    await page.get_by_role("button", name="Find").click()
    await page.wait_for_load_state("load")


async def record_callback(
    page: Page,
    site: ConsoleSite,
    customer_name: str,
    notes: str,
    *,
    problem: bool,
    previous_job_id: str | None = None,
    priority: str | None = None,
) -> str | None:
    """Records a call-back to `customer_name` about its first unit; the job id a reported problem raised
    (the page is then that job's), or None for a satisfied customer."""
    await page.goto(f"{site.url}/reception/callbacks")
    await page.get_by_label("Who was called? Customer name or phone").fill(customer_name)
    await page.get_by_role("button", name="Find").click()
    await page.get_by_role("link", name=f"Record a call-back for {customer_name}").click()
    await page.locator("input[name=equipment_id]").first.check()
    if previous_job_id:
        await page.get_by_label("Job the visit followed up").select_option(previous_job_id)
    await page.get_by_label("Problem reported" if problem else "Satisfied").check()
    await page.get_by_label("Notes").fill(notes)
    if priority:
        await page.get_by_label("Priority of the request a problem raises").select_option(priority)
    await page.get_by_role("button", name="Record the call-back").click()
    if problem:
        await page.wait_for_url(re.compile(r".*/jobs/[^/?#]+$"))
        return page.url.rsplit("/", 1)[1]
    await page.wait_for_url(re.compile(r".*/reception/callbacks\?recorded=.+"))
    return None
