"""The engineer's part of the whole job in the field (phases 2-3), done by clicking on a phone as a person
would, with demo/flow.py's run_job data. The page is signed in as the assigned engineer (lim, ENG-001).

Times are typed into datetime-local inputs in the engineer's own time zone, which the hub names
(`data-zone` on the commitment); the commitment follows run_job: on site an hour after the booked slot
ends (at least an hour from now, at most 7.5 h), resolved within 20 h.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.async_api import Page

from demo.flow import PHOTO

from .site import ConsoleSite

SYMPTOMS = ["Trips on high discharge temperature", "Oil visibly dark"]
CAUSES = ["Thermostatic valve stuck", "Fouled oil cooler"]
PART = ("1622-3600-00", "Thermostatic valve kit", "1")
MEASUREMENTS = [
    ("Discharge temperature", "110", "°C", "Fluke 62 MAX"),
    ("Oil cooler outlet temperature", "96", "°C", "Fluke 62 MAX"),
]
ROOT_CAUSE = "Thermostatic valve stuck open, bypassing the oil cooler"
SCOPE = "Oil circuit only; motor and airend sound"
LOCAL = "%Y-%m-%dT%H:%M"


async def open_job(page: Page, site: ConsoleSite, job_id: str, stage_heading: str, timeout: float = 30.0) -> None:
    """Open the job's hub; reload until its next step is `stage_heading` (the services caught up)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    heading = page.locator("#next-heading")
    while True:
        await page.goto(f"{site.url}/field/jobs/{job_id}")
        if await heading.count() and stage_heading in await heading.inner_text():
            return
        if loop.time() > deadline:
            shown = await heading.inner_text() if await heading.count() else await page.locator("main").inner_text()
            raise AssertionError(f"{job_id}: expected the step {stage_heading!r}, the hub shows {shown!r}")
        await asyncio.sleep(0.5)


async def zone_of(page: Page) -> ZoneInfo:
    return ZoneInfo(await page.locator("fieldset.commitment").get_attribute("data-zone") or "UTC")


async def fill_prediagnosis(page: Page, arrive_by: str, resolve_by: str) -> None:
    """Type run_job's pre-diagnosis and the commitment (local datetime-local values); nothing sent yet."""
    await page.get_by_label("Talked to the customer by").select_option("phone")
    await page.get_by_label("Confirmed symptoms").fill("\n".join(SYMPTOMS))
    await page.get_by_label("Suspected causes").fill("\n".join(CAUSES))
    await page.get_by_label("Part 1 number").fill(PART[0])
    await page.locator("#likely_parts-0-description").fill(PART[1])
    await page.locator("#likely_parts-0-quantity").fill(PART[2])
    await page.get_by_label("On site by").fill(arrive_by)
    await page.get_by_label("Resolved by").fill(resolve_by)


async def run_job_commitment(page: Page) -> tuple[str, str]:
    """run_job's commitment as the hub's inputs take it (in the engineer's zone)."""
    zone = await zone_of(page)
    now = datetime.now(UTC).astimezone(zone)
    booked = await page.locator("fieldset.commitment").get_attribute("data-booked-end")
    slot_end = datetime.fromisoformat(booked).replace(tzinfo=zone) if booked else now
    arrive = min(max(slot_end + timedelta(hours=1), now + timedelta(hours=1)), now + timedelta(hours=7, minutes=30))
    return arrive.strftime(LOCAL), (now + timedelta(hours=20)).strftime(LOCAL)


async def prediagnose(page: Page, site: ConsoleSite, job_id: str) -> None:
    """Phase 2: record run_job's remote pre-diagnosis and commit to arrive-by and resolve-by times."""
    await open_job(page, site, job_id, "pre-diagnosis and commitment")
    arrive_by, resolve_by = await run_job_commitment(page)
    await fill_prediagnosis(page, arrive_by, resolve_by)
    await page.get_by_role("button", name="Record and commit").click()
    await page.wait_for_url(re.compile(r"\?done=prediagnosis$"))


async def depart(page: Page, site: ConsoleSite, job_id: str) -> None:
    """Phase 2: leave for the site with an ETA an hour from now."""
    await open_job(page, site, job_id, "Leave for the site")
    zone = ZoneInfo(await page.locator("#eta").get_attribute("data-zone") or "UTC")
    eta = (datetime.now(UTC).astimezone(zone) + timedelta(hours=1)).strftime(LOCAL)
    await page.get_by_label("Expected arrival (ETA)").fill(eta)
    await page.get_by_role("button", name="Leave now").click()
    await page.wait_for_url(re.compile(r"\?done=departure$"))


async def arrive(page: Page, site: ConsoleSite, job_id: str, timeout: float = 30.0) -> None:
    """Phase 3: record the arrival on site (tried again while maintenance has not opened the work order)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    await open_job(page, site, job_id, "arrival on site")
    while True:
        await page.get_by_role("button", name="I am on site").click()
        await page.wait_for_load_state("load")
        if page.url.endswith("?done=arrival"):
            return
        if loop.time() > deadline:
            raise AssertionError(f"arrival refused: {await page.locator('main').inner_text()}")
        await asyncio.sleep(0.5)
        await open_job(page, site, job_id, "arrival on site")


async def diagnose(page: Page, site: ConsoleSite, job_id: str, photo_path: Path | None = None) -> None:
    """Phase 3: run_job's measurements, root cause, scope and category, with a photo taken on the phone
    (`photo_path`, else run_job's photo as valve.jpg) uploaded straight to the object store."""
    await open_job(page, site, job_id, "Diagnose")
    for row, (name, value, unit, instrument) in enumerate(MEASUREMENTS):
        await page.locator(f"#measurements-{row}-name").fill(name)
        await page.locator(f"#measurements-{row}-value").fill(value)
        await page.locator(f"#measurements-{row}-unit").fill(unit)
        await page.locator(f"#measurements-{row}-instrument").fill(instrument)
    await page.get_by_label("Root cause").fill(ROOT_CAUSE)
    await page.get_by_label("Scope").fill(SCOPE)
    await page.get_by_label("Failure category").select_option("cooling")
    photo = page.locator("#photo-input")
    if photo_path is None:
        await photo.set_input_files({"name": "valve.jpg", "mimeType": "image/jpeg", "buffer": PHOTO})
    else:
        await photo.set_input_files(photo_path)
    await page.locator("#photo-list input[name=photo_keys]").first.wait_for(state="attached")
    await page.get_by_role("button", name="Record the diagnosis").click()
    await page.wait_for_url(re.compile(r"\?done=diagnosis$"))
