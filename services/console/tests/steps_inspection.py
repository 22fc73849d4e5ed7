"""The inspector's part of the whole job (phase 6), by clicking in the console as a person would."""

from __future__ import annotations

import asyncio

from console_service.inspection.domain import reading_for
from playwright.async_api import Page

from .site import ConsoleSite

FAILING_INDICATOR = "discharge_temperature"  # demo/flow.py's `inspect` fails round 1 on this one


async def open_inspection(page: Page, site: ConsoleSite, job_id: str, round_number: int, timeout: float = 30) -> str:
    """From the open inspections (reloaded until quality has opened it), the form of the job's round."""
    row = page.locator(f'li.inspection[data-job="{job_id}"][data-round="{round_number}"]')
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await page.goto(f"{site.url}/inspections")
        if await row.count():
            break
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no open inspection of {job_id} round {round_number} within {timeout}s")
        await asyncio.sleep(0.5)
    await row.locator("a").click()
    await page.locator("#inspection-form").wait_for()
    return page.url


async def fill_readings(page: Page, fail: bool) -> None:
    """Every indicator's reading as demo/flow.py reads it: within limits, or the discharge temperature
    just over its maximum when the round should fail."""
    fields = page.locator("#inspection-form .indicator")
    for index in range(await fields.count()):
        field = fields.nth(index)
        code = await field.get_attribute("data-code")
        low, high = await field.get_attribute("data-min"), await field.get_attribute("data-max")
        indicator = {"min_limit": float(low) if low else None, "max_limit": float(high) if high else None}
        await field.locator("input[type=text]").fill(f"{reading_for(indicator, fail and code == FAILING_INDICATOR):g}")


async def inspect(page: Page, site: ConsoleSite, job_id: str, round_number: int, fail: bool) -> str:
    """The inspector (signed in) opens the job's round, types each reading and records them: quality's
    verdict, "passed" or "failed" (round 1 of the demo fails, its rework passes)."""
    await open_inspection(page, site, job_id, round_number)
    await fill_readings(page, fail)
    await page.get_by_role("button", name="Record results").click()
    verdict = page.locator("#result-heading")
    await verdict.wait_for()
    text = (await verdict.inner_text()).strip()
    return "passed" if text.startswith("Passed") else "failed"
