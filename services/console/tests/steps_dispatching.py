"""The dispatcher's part of the whole job (phases 1-2), done by clicking in the console as a person would.

demo/flow.py's run_job: when the matcher left the job unassigned (nobody free within the target), the
dispatcher takes it from the unassigned queue by hand and assigns ENG-001 (Lim) with the reason
DEMO_REASON. The page is signed in as a dispatcher (daniel) already.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date

from playwright.async_api import Page

from .site import ConsoleSite

DEMO_ENGINEER = "ENG-001"
DEMO_REASON = "Nobody free within the target; Lim takes it on call."


async def open_queue(page: Page, site: ConsoleSite, job_id: str | None = None, timeout: float = 30.0) -> None:
    """Open the unassigned queue; with `job_id`, reload until that job is in it (dispatch heard of it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await page.goto(f"{site.url}/dispatch")
        await page.get_by_role("heading", name="Unassigned jobs").wait_for()
        if job_id is None or await page.locator(f"#job-{job_id}").count():
            return
        if loop.time() > deadline:
            raise AssertionError(f"{job_id} did not reach the unassigned queue within {timeout:.0f}s")
        await asyncio.sleep(0.5)


async def fill_assignment(page: Page, engineer_id: str, reason: str) -> None:
    """On a job's assignment page: choose the engineer and type the reason (nothing sent yet)."""
    await page.get_by_label("Engineer").select_option(engineer_id)
    await page.get_by_label("Reason").fill(reason)


async def assign(
    page: Page, site: ConsoleSite, job_id: str, engineer_id: str = DEMO_ENGINEER, reason: str = DEMO_REASON
) -> str:
    """Assign (or reassign) the job from its assignment page with a reason; returns the page's confirmation."""
    await page.goto(f"{site.url}/dispatch/jobs/{job_id}")
    await fill_assignment(page, engineer_id, reason)
    await page.locator("form.assign button[type=submit]").click()
    await page.wait_for_url(re.compile(rf"/dispatch/jobs/{re.escape(job_id)}\?assigned=1$"))
    notice = page.get_by_role("status").filter(has_text="Assigned to")
    await notice.wait_for()
    return await notice.inner_text()


async def open_schedule(page: Page, site: ConsoleSite, day: date | None = None) -> None:
    """Open the schedule board on `day` (today when None)."""
    await page.goto(f"{site.url}/dispatch/schedule" + (f"?day={day.isoformat()}" if day else ""))
    await page.get_by_role("heading", name=re.compile(r"^Schedule")).wait_for()
