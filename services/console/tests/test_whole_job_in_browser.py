"""The whole job by clicking: all seven services as processes, each phase done in the console by the
right person signed in at the provider (the engineer on a phone), while a dispatcher's board in a second
browser follows every phase change without a reload. Afterwards the same checks as the API's whole-job
test: every phase's event exactly once, one trace across the services, the record and its report, the
survey, the review and the customer file."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import httpx
import pytest
from playwright.async_api import Page

from compressor_contracts import PRODUCERS as SERVICES
from compressor_kit.testing import eventually
from compressor_kit.testing.browser import assert_accessible, assert_clean, assert_fits, person_page, screenshot
from compressor_kit.testing.mail import mail_server
from compressor_kit.testing.watcher import EventWatcher
from demo.flow import EVENTS_OF_ONE_JOB, Office
from demo.otlp import OtlpReceiver

from . import steps_dispatching, steps_field, steps_inspection, steps_reception, steps_repair
from .site import ConsoleSite, console_site

pytestmark = pytest.mark.slow

# Here the manager records the decision the customer gave by phone: an approval without a signature
# (signing on the engineer's phone and in the portal have their own browser tests).
EXPECTED = {**EVENTS_OF_ONE_JOB, "job.signed.v1": 0}

LIM = {
    "name": "Lim Wei Jie",
    "skills": {"compressor_types": ["oil_injected_screw"], "brands": ["Atlas Copco"], "certifications": []},
    "regions": ["sabah"],
    "calendar": {
        "timezone": "Asia/Kuala_Lumpur",
        "shifts": [{"weekday": day, "start": "00:00", "end": "24:00"} for day in range(7)],
        "leave": [],
    },
    "capacity_per_day": 12,
}

# Records, in the watching page itself, every column the job's row is put into by a live update: the
# board's script replaces the row on each `row` event, so each arrival is one added <li id="job-…">.
FOLLOW_ROW = """(jobId) => {
  window.__columns = [];
  window.__sameDocument = true;
  new MutationObserver((changes) => {
    for (const change of changes) for (const node of change.addedNodes)
      if (node.id === "job-" + jobId) window.__columns.push(node.parentElement.id);
  }).observe(document.getElementById("board"), {childList: true, subtree: true});
}"""


async def _watch_board(page: Page, site: ConsoleSite) -> None:
    await site.sign_in(page, "daniel", "/")
    await page.locator("#live-state[data-connected=yes]").wait_for()


async def test_one_job_through_all_nine_phases_by_clicking_in_the_console(
    test_settings, identity_provider, database_prefix, chromium, tmp_path
):
    amqp_url = test_settings.rabbitmq_url.get_secret_value()
    with OtlpReceiver() as otlp, mail_server() as (mailbox, smtp_port):
        async with EventWatcher(amqp_url) as watcher:
            env = {
                "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
                "OTEL_BSP_SCHEDULE_DELAY": "200",
                "DISPATCH_SEED_ENGINEERS": "false",
                "SMTP_PORT": str(smtp_port),
            }
            async with (
                console_site(test_settings, database_prefix, SERVICES, tmp_path / "logs", env) as site,
                httpx.AsyncClient(timeout=30) as client,
                person_page(chromium, "desktop") as board,
                person_page(chromium, "desktop") as office_page,
                person_page(chromium, "phone") as phone,
            ):
                office = Office(site.stack.urls(), client, test_settings)
                await office.stock_parts_for(1)
                # Lim is the one engineer, and covers another region: the matcher finds nobody, so the
                # dispatcher assigns the job by hand, as demo/flow.py's dispatcher does.
                lim = await office.dispatcher.post("dispatch", "/engineers", LIM)
                assert lim["engineer_id"] == "ENG-001", lim

                await _watch_board(board, site)
                # Phase 1: reception takes the call; the dispatcher assigns it by hand if nobody matched.
                await site.sign_in(office_page, "aisyah", "/reception")
                job_id = await steps_reception.take_call(office_page, site)
                await board.evaluate(FOLLOW_ROW, job_id)
                await site.sign_out(office_page)
                await site.sign_in(office_page, "daniel", "/dispatch")
                await steps_dispatching.open_queue(office_page, site, job_id)
                await steps_dispatching.assign(office_page, site, job_id, "ENG-001")
                await site.sign_out(office_page)

                # Phases 2-5: the engineer on a phone.
                await site.sign_in(phone, "lim", "/field")
                await steps_field.prediagnose(phone, site, job_id)
                await steps_field.depart(phone, site, job_id)
                await steps_field.arrive(phone, site, job_id)
                await steps_field.diagnose(phone, site, job_id)
                await steps_repair.propose_plan(phone, site, job_id)
                await site.sign_in(office_page, "rahman", "/manager/plans")
                await steps_repair.approve_plan(office_page, site, job_id)
                await site.sign_out(office_page)
                await steps_repair.work_round(phone, site, job_id, 1)

                # Phase 6: the first inspection fails, the rework passes.
                await site.sign_in(office_page, "meiling", "/inspections")
                await steps_inspection.inspect(office_page, site, job_id, 1, fail=True)
                await steps_repair.work_round(phone, site, job_id, 2)
                await steps_inspection.inspect(office_page, site, job_id, 2, fail=False)
                await site.sign_out(office_page)

                # Phase 7-8: reporting publishes the report; the customer answers the survey link.
                await watcher.wait_for(job_id, "job.survey_sent.v1", timeout=120)
                link = await office.reception.post("feedback", f"/jobs/{job_id}/survey/links")
                await _answer_survey(office_page, site, link["token"])

                # Phase 9: the engineer writes the review memo; the job closes and is filed.
                await steps_repair.write_review(phone, site, job_id)
                await watcher.wait_for(job_id, "customer_file.updated.v1", timeout=60)

                # The board followed every change live, without a reload.
                async def closed_on_board() -> list[str] | None:
                    seen: list[str] = await board.evaluate("window.__columns")
                    return seen if seen and seen[-1] == "closed" else None

                seen = await eventually(closed_on_board, timeout=15)
                assert await board.evaluate("window.__sameDocument") is True
                assert (await board.locator("#live-state").inner_text()).strip() == "1 job"
                assert await board.locator(f"#closed #job-{job_id} .badge.sla").count() == 0, "no SLA on a closed job"
                assert [f"phase-{n}" for n in range(1, 10)] == sorted(
                    {c for c in seen if c.startswith("phase-")}, key=lambda c: int(c.split("-")[1])
                ), seen
                await screenshot(board, "whole-job-board")
                assert_clean(board)

                # The job page: the whole timeline, the report link and the trace id.
                await site.sign_in(office_page, "rahman", f"/jobs/{job_id}")
                await office_page.get_by_text("job.closed").first.wait_for()
                trace_shown = (await office_page.locator("code.trace").inner_text()).strip()
                await screenshot(office_page, "whole-job-job-page")
                await assert_accessible(office_page)
                await phone.goto(f"{site.url}/jobs/{job_id}")  # the engineer is still signed in
                await phone.get_by_text("job.closed").first.wait_for()
                await assert_fits(phone)
                await screenshot(phone, "whole-job-job-page")

                events = watcher.of_job(job_id)
                assert not watcher.invalid, watcher.invalid
                counts = Counter(e.data.routing_key() for e in events)
                for routing_key, expected in EXPECTED.items():
                    assert counts[routing_key] == expected, (routing_key, counts)
                assert len({e.id for e in events}) == len(events), "an event was delivered twice"
                assert any(job_id.encode() in m.content for m in mailbox.messages), "the report's e-mail was sent"

                staff = office.manager
                # Each phase was done by its person, as the provider signed them in.
                timeline = await staff.get("reporting", f"/jobs/{job_id}/timeline")
                actors = {e["event"]: e["actor"]["name"] for e in timeline["events"]}
                assert actors["job.requested"] == "Aisyah binti Hassan", actors
                assert actors["job.assigned"] == "Daniel Wong", actors
                for by_engineer in ("job.prediagnosed", "job.diagnosed", "job.work_completed", "job.reviewed"):
                    assert actors[by_engineer] == "Lim Wei Jie", (by_engineer, actors)
                assert actors["job.inspection_passed"] == "Mei Ling Chong", actors
                record = await staff.get("reporting", f"/jobs/{job_id}/record")
                assert record["status"] == "published" and record["version"] == 1
                await office_page.get_by_role("link", name="PDF report").click()
                await office_page.wait_for_url(lambda url: not url.startswith(site.url))  # a fresh presigned URL
                pdf = await office_page.context.request.get(office_page.url)
                assert pdf.ok and (await pdf.body()).startswith(b"%PDF")
                assert hashlib.sha256(await pdf.body()).hexdigest() == record["report"]["sha256"]
                feedback = await staff.get("feedback", f"/jobs/{job_id}/feedback")
                assert feedback["survey_status"] == "answered" and feedback["csat"] == 5
                assert feedback["review"]["memo"] and feedback["closed_at"]
                customer_file = await staff.get("intake", f"/customers/{events[0].data.customer.customer_id}/file")
                history = [h for s in customer_file["sites"] for u in s["equipment"] for h in u["history"]]
                assert [h["job_id"] for h in history] == [job_id] and history[0]["inspection_rounds"] == 2

        spans: list[Any] = otlp.in_trace(trace_shown)
        assert {s.service for s in spans} >= set(SERVICES), Counter(s.service for s in spans)
        event_ids = {e.id for e in events}
        messaging = [s for s in otlp.spans if s.attributes.get("messaging.message.id") in event_ids]
        assert messaging and {s.trace_id for s in messaging} == {trace_shown}, "one trace for the whole job"


async def _answer_survey(page: Page, site: ConsoleSite, token: str) -> None:
    """The customer opens the e-mailed survey link (feedback's own form) and answers it."""
    await page.goto(f"{site.service_url('feedback')}/surveys/{token}")
    await page.locator("input[name=csat][value='5']").check()
    await page.locator("input[name=nps][value='9']").check()
    await page.get_by_label("Comments").fill("Quick, clear updates at every step. Thank you!")
    await page.get_by_role("button", name="Send").click()
    await page.wait_for_load_state("load")
