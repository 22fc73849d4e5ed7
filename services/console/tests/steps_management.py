"""The manager's part of the whole job (phases 7-9), by clicking as a person would.

In demo/flow.py the review memo is written by the job's engineer (a manager may write it too): the
review form at /manager/reviews/{job_id} serves both; sign the engineer in before `review_job`.
"""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from .site import ConsoleSite

REVIEW_MEMO = (
    "Thermostatic valve replaced; the first inspection found the discharge temperature high, "
    "the oil cooler was cleaned in the rework and the unit passed."
)
REVIEW_LESSON = "Check the oil cooler fins whenever the thermostatic valve is replaced."


async def open_report(page: Page, site: ConsoleSite, job_id: str) -> bytes:
    """On Reports, click the job's "Report PDF" (the browser opens it from the object store) and return
    the PDF the fresh presigned link gives."""
    await page.goto(f"{site.url}/manager/reports")
    report = page.locator(f"#report-{job_id}")
    await expect(report).to_be_visible()
    await report.get_by_role("link", name=re.compile("Report PDF")).click()
    await page.wait_for_url(lambda url: not url.startswith(site.url))  # the object store's presigned URL
    # Chromium shows the PDF in its viewer; the bytes are what the same link gives.
    response = await page.context.request.get(page.url)
    assert response.ok and response.headers.get("content-type") == "application/pdf", response.status
    return await response.body()


async def review_job(
    page: Page, site: ConsoleSite, job_id: str, memo: str = REVIEW_MEMO, lessons: tuple[str, ...] = (REVIEW_LESSON,)
) -> None:
    """From the review queue, open the job's review form, write demo/flow.py's memo and lesson (no
    follow-up) and record it; lands back on the queue with the job reviewed."""
    await page.goto(f"{site.url}/manager/reviews")
    await page.locator(f"#review-{job_id}").get_by_role("link", name=re.compile("Write the review")).click()
    await page.get_by_label(re.compile("Review memo")).fill(memo)
    await page.get_by_label(re.compile("Lessons learned")).fill("\n".join(lessons))
    await page.get_by_role("button", name="Record the review").click()
    await expect(page.get_by_role("status")).to_contain_text(f"The review of {job_id} is recorded")
