"""The engineer's repair by clicking (phases 4-5, the rework round of 6, the review memo of 9), with
demo/flow.py's run_job data: the plan from PROC-GA-VSD-OILCIRCUIT as the procedure sets it out, the
customer's approval (recorded by a manager, "Go ahead."), each round's steps done in order, the parts
and hours of each round, and the engineer's review memo. The engineer's page is a phone signed in as
the assigned engineer; the manager's page is signed in as rahman.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from playwright.async_api import Locator, Page

from demo.flow import PROCEDURE

from .site import ConsoleSite

HOURS = {1: "3.5", 2: "1.5"}
METHOD = {
    1: "Replaced the thermostatic valve element, oil and oil filter",
    2: "Cleaned the oil cooler fins and re-tested",
}
MEMO = (
    "Thermostatic valve replaced; the first inspection found the discharge temperature high, "
    "the oil cooler was cleaned in the rework and the unit passed."
)
LESSON = "Check the oil cooler fins whenever the thermostatic valve is replaced."


async def _reload_until(
    page: Page, url: str, ready: Callable[[], Locator], what: str, timeout: float = 60.0
) -> Locator:
    """Open `url` again until `ready()` shows (the services have caught up with the last event)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await page.goto(url)
        found = ready()
        if await found.count():
            return found.first
        if loop.time() > deadline:
            raise AssertionError(
                f"waited {timeout:.0f}s for {what}; the page shows {await page.locator('main').inner_text()!r}"
            )
        await asyncio.sleep(0.5)


async def _submit(button: Locator) -> None:
    page = button.page
    async with page.expect_navigation():
        await button.click()


async def propose_plan(page: Page, site: ConsoleSite, job_id: str) -> None:
    """The engineer proposes the plan from the oil-circuit procedure, its steps and parts as they are."""
    url = f"{site.url}/field/jobs/{job_id}/plan"
    await _reload_until(page, url, lambda: page.locator("select#procedure"), f"{job_id} to be ready for a plan")
    await page.locator("select#procedure").select_option(PROCEDURE)
    await _submit(page.get_by_role("button", name="Use this procedure"))
    await _submit(page.get_by_role("button", name="Propose to the customer"))
    await page.get_by_text("proposed: the customer is asked to approve it").wait_for()


async def approve_plan(page: Page, site: ConsoleSite, job_id: str) -> None:
    """A manager records the customer's approval given by phone ("Go ahead."); the parts are reserved."""
    card = await _reload_until(
        page, f"{site.url}/manager/plans", lambda: page.locator(f"[id='plan-{job_id}']"), f"the plan of {job_id}"
    )
    approve = card.locator("form.approve")
    await approve.get_by_label("Comments (optional)").fill("Go ahead.")
    await _submit(approve.get_by_role("button", name="Approve revision"))
    await page.get_by_text(f"The plan of {job_id} is approved").wait_for()


async def work_round(page: Page, site: ConsoleSite, job_id: str, round_number: int) -> int:
    """The engineer starts round `round_number`, does its steps in order (each reported to the customer),
    then books the parts (round 1: the plan's) and hours and completes it; the steps done."""
    url = f"{site.url}/field/jobs/{job_id}/work"
    start = await _reload_until(
        page, url, lambda: page.get_by_role("button", name=f"Start round {round_number}"), f"round {round_number}"
    )
    await _submit(start)
    steps = 0
    while True:
        done = page.locator("form.complete-step button")
        if not await done.count():
            break
        await _submit(done)
        steps += 1
    form = page.locator("form.complete-round")
    await form.wait_for()
    if round_number > 1:  # rework: no parts beyond the plan's, which round 1 used
        for quantity in await form.locator("input[name^='parts_used.'][name$='.quantity']").all():
            await quantity.fill("")
    await form.get_by_label("Hours worked in this round").fill(HOURS.get(round_number, "1.5"))
    await form.get_by_label("What was done (for the report)").fill(METHOD.get(round_number, METHOD[2]))
    await _submit(form.get_by_role("button", name=f"Complete round {round_number}"))
    await page.get_by_role("heading", name=f"Round {round_number} report").wait_for()
    return steps


async def write_review(page: Page, site: ConsoleSite, job_id: str, timeout: float = 60.0) -> None:
    """The engineer writes the review memo once the report is out (run_job's memo and lesson)."""
    url = f"{site.url}/field/jobs/{job_id}/review"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    await page.goto(url)
    while True:
        memo = page.get_by_label("Memo")
        await memo.fill(MEMO)
        await page.get_by_label("Lessons learned (one a line)").fill(LESSON)
        await _submit(page.get_by_role("button", name="Record the review"))
        if await page.get_by_text("Review recorded.").count():
            return
        refusal = await page.locator(".notice.refusal").all_inner_texts()
        if loop.time() > deadline or not any("report" in text or "no job" in text for text in refusal):
            raise AssertionError(f"the review of {job_id} was not recorded: {refusal}")
        await asyncio.sleep(1.0)  # feedback has not heard of the report yet
        await page.goto(url)
