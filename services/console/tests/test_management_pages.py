"""The manager's pages: the charts (pure), and in a real browser against reporting and feedback as
processes, fed with a job's contract events: the dashboard's figures and charts with their filters,
an alert arriving without a reload, reports with their PDFs, the review queue urgent first, the review
memo with its refusal beside the field, and another role refused."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from console_service.management import charts, domain
from playwright.async_api import Page, expect

from compressor_contracts import FailureCategory
from compressor_kit.testing.browser import assert_accessible, assert_clean, assert_fits, person_page, screenshot
from compressor_kit.testing.events import publish_events
from services.reporting.tests.reporting_story import Job

from .console_story import job_event, new_job_id
from .site import ConsoleSite, console_site
from .steps_management import open_report, review_job

# --- pure -------------------------------------------------------------------------------------------


def test_a_line_chart_is_an_accessible_svg_with_its_figures_as_a_table():
    chart = charts.line_chart(
        "c", "MTTR <hours>", ["1 Nov", "8 Nov", "15 Nov"], [charts.Series("MTTR", [7.5, None, 16.5])], unit=" h"
    )
    svg = str(chart.svg)
    assert svg.startswith("<svg") and 'role="img"' in svg and 'aria-labelledby="c-title c-desc"' in svg
    assert '<title id="c-title">MTTR &lt;hours&gt;</title>' in svg  # escaped
    assert "7.5 h in 1 Nov, 16.5 h in 15 Nov (2 of 3 periods with data)" in chart.description
    assert chart.rows == [("1 Nov", "7.5 h"), ("8 Nov", "\u2013"), ("15 Nov", "16.5 h")]
    assert svg.count("<circle") == 2 and "<polyline" not in svg  # a gap splits the line: two lone points
    assert not chart.empty
    assert charts.line_chart("e", "Empty", ["a", "b"], [charts.Series("x", [None, None])]).empty


def test_the_pareto_puts_the_most_frequent_cause_first_with_the_cumulative_share():
    chart = charts.pareto_chart("p", "Causes", [("leaks", 1), ("cooling", 2), ("lubrication", 1)])
    assert chart.rows == [
        ("Cooling", "2", "50%", "50%"),
        ("Leaks", "1", "25%", "75%"),
        ("Lubrication", "1", "25%", "100%"),
    ]
    assert str(chart.svg).count('class="bar"') == 4  # three bars and the legend's swatch


def test_kpis_per_model_engineer_or_region_and_one_filter_at_a_time():
    kpis: dict[str, Any] = {
        "overall": {"jobs": 3, "mttr_hours": 9.0},
        "by_model": [{"model_code": "A", "jobs": 2, "mttr_hours": 8.0}],
        "by_engineer": [{"engineer_id": "ENG-1", "jobs": 1, "mttr_hours": 7.0}],
        "by_region": [],
        "failure_causes_by_model": [
            {"model_code": "A", "causes": [{"failure_category": "cooling", "count": 2}]},
            {"model_code": "B", "causes": [{"failure_category": "cooling", "count": 1}]},
        ],
    }
    assert domain.figures(kpis, domain.selection(None, None, None)) == kpis["overall"]
    assert domain.figures(kpis, domain.selection("A", None, None)) == kpis["by_model"][0]
    assert domain.figures(kpis, domain.selection(None, None, "north")) is None
    both = domain.selection("A", None, "north")
    assert both.dimension == "model" and dict(both.errors) == {"region": domain.ONE_FILTER}
    assert domain.causes(kpis, domain.selection(None, None, None)) == [("cooling", 3)]
    assert domain.causes(kpis, domain.selection("B", None, None)) == [("cooling", 1)]
    weeks = domain.periods("8w", datetime(2026, 11, 30, 22, 0, tzinfo=UTC))
    assert len(weeks) == 8 and weeks[-1].end == datetime(2026, 12, 1, tzinfo=UTC)
    assert all(a.end == b.start for a, b in itertools.pairwise(weeks))
    months = domain.periods("6m", datetime(2026, 2, 10, tzinfo=UTC))
    assert [m.start.month for m in months] == [9, 10, 11, 12, 1, 2] and months[0].start.year == 2025


def test_management_alerts_come_from_new_requests_sla_escalations_and_low_scores_only():
    assert domain.alert_of(job_event("job.requested.v1", "J-1"))["kind"] == "new_request"  # type: ignore[index]
    assert domain.alert_of(job_event("job.sla_breached.v1", "J-1"))["kind"] == "sla_breached"  # type: ignore[index]
    assert domain.alert_of(job_event("job.inspection_escalated.v1", "J-1"))["kind"] == "escalation"  # type: ignore[index]
    assert domain.alert_of(job_event("job.feedback_received.v1", "J-1")) is None  # a good score
    low = domain.alert_of(job_event("job.feedback_received.v1", "J-1", csat=1, nps=2, low_score=True))
    assert low is not None and low["kind"] == "low_score" and "CSAT 1/5" in low["text"]
    assert domain.alert_of(job_event("job.assigned.v1", "J-1")) is None


def test_the_review_body_follows_the_api_and_its_refusals_land_on_the_form_fields():
    body = domain.review_body(
        {"memo": "Done.", "lessons": "One\n\n  Two  \n", "follow_ups.0.kind": "", "follow_ups.0.description": ""}
    )
    assert body == {"memo": "Done.", "lessons": ["One", "Two"], "follow_ups": []}
    with_follow_up = domain.review_body(
        {
            "memo": "m",
            "follow_ups.0.kind": "monitoring",
            "follow_ups.0.description": "Watch it",
            "follow_ups.0.due_on": "",
        }
    )
    assert with_follow_up["follow_ups"] == [{"kind": "monitoring", "description": "Watch it", "due_on": None}]
    assert domain.form_errors({"lessons.3": "too long", "memo": "empty"}) == {"lessons": "too long", "memo": "empty"}


# --- in the browser ---------------------------------------------------------------------------------


def story_jobs(now: datetime) -> list[Job]:
    """Three jobs done in the last weeks: two of model AC-GA37VSD (one reworked), one of AC-G22; lim
    (ENG-001) did two of them."""
    return [
        Job(
            new_job_id(),
            start=now - timedelta(days=20),
            rounds=1,
            engineer_id="ENG-001",
            region="central",
            equipment_id="EQ-M1",
            csat=5,
            nps=10,
        ),
        Job(
            new_job_id(),
            start=now - timedelta(days=10),
            rounds=2,
            engineer_id="ENG-002",
            region="north",
            equipment_id="EQ-M2",
            failure_category=FailureCategory.LEAKS,
            csat=3,
            nps=6,
        ),
        Job(
            new_job_id(),
            start=now - timedelta(days=3),
            rounds=1,
            engineer_id="ENG-001",
            region="central",
            model_code="AC-G22",
            equipment_id="EQ-M3",
        ),
    ]


async def manager_call(
    site: ConsoleSite, token: str, service: str, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=site.service_url(service), timeout=10) as client:
        return await client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)


async def answer_survey(site: ConsoleSite, token: str, job_id: str, csat: int, nps: int) -> None:
    """The customer answers the job's survey (through a link the manager hands them)."""
    link = await manager_call(site, token, "feedback", "POST", f"/jobs/{job_id}/survey/links")
    assert link.status_code == 201, link.text
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            f"{site.service_url('feedback')}/surveys/{link.json()['token']}/answer",
            json={"csat": csat, "nps": nps, "comments": "The second visit should not have been needed."},
        )
    assert answer.status_code == 201, answer.text


async def settled(check: Callable[[], Awaitable[None]], timeout: float = 90.0) -> None:
    """`check` passes within `timeout` (its assertions are retried until then)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.25)


async def check_page(page: Page, name: str, allow: tuple[str, ...] = ()) -> None:
    await assert_accessible(page)
    assert_clean(page, allow=allow)
    if page.viewport_size and page.viewport_size["width"] < 500:
        await assert_fits(page)
    await screenshot(page, name)


def card(page: Page, label: str):  # type: ignore[no-untyped-def]
    return page.locator(".cards div", has=page.locator("dt", has_text=re.compile(f"^{label}$"))).locator("dd")


async def test_the_manager_sees_kpis_live_alerts_reports_and_reviews_and_the_engineer_writes_the_review(
    test_settings, identity_provider, database_prefix, desktop_page, phone_page, tmp_path, chromium
):
    now = datetime.now(UTC)
    jobs = story_jobs(now)
    first, reworked, recent = jobs
    amqp = test_settings.rabbitmq_url.get_secret_value()
    async with console_site(test_settings, database_prefix, ("reporting", "feedback"), tmp_path) as site:
        token = (await identity_provider.sign_in("rahman")).access_token
        await publish_events(amqp, *(event for job in jobs for event in job.build()))

        async def kpis_ready() -> None:
            answer = await manager_call(
                site,
                token,
                "reporting",
                "GET",
                "/kpis",
                params={"from": (now - timedelta(days=30)).isoformat(), "to": (now + timedelta(days=1)).isoformat()},
            )
            assert answer.status_code == 200 and answer.json()["overall"]["jobs"] == 3, answer.text
            assert answer.json()["overall"]["survey_responses"] == 2

        await settled(kpis_ready)

        async def reviews_pending() -> None:
            pending = await manager_call(site, token, "feedback", "GET", "/reviews/pending")
            assert {first.job_id, reworked.job_id, recent.job_id} <= {i["job_id"] for i in pending.json()["items"]}

        await settled(reviews_pending)

        # The dashboard: the figures and every chart with the data.
        manager = desktop_page
        await site.sign_in(manager, "rahman", "/manager")
        await expect(manager.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
        await expect(card(manager, "Jobs done")).to_have_text("3")
        await expect(card(manager, "Rework rate")).to_have_text("33.3%")
        await expect(card(manager, "CSAT")).to_have_text("4 / 5")
        for ident in ("mttr", "ftf", "rework", "sla", "csat", "nps", "pareto"):
            svg = manager.locator(f"#chart-{ident} svg[role=img]")
            await expect(svg).to_be_visible()
            assert "No data in this range" not in await svg.inner_html(), ident
        pareto = manager.locator("#chart-pareto table tbody tr")
        await expect(pareto).to_have_count(2)
        await expect(pareto.first).to_contain_text("Cooling")
        csat_rows = manager.locator("#chart-csat table tbody tr", has_text="5")
        assert await csat_rows.count() >= 1
        await manager.locator("#chart-mttr summary").click()
        await expect(manager.locator("#chart-mttr table")).to_be_visible()

        # Filters: one model; then two filters at once are refused beside the second.
        await manager.get_by_label("Model", exact=True).select_option("AC-G22")
        await manager.get_by_role("button", name="Show").click()
        await expect(card(manager, "Jobs done")).to_have_text("1")
        await expect(manager.locator("#chart-pareto table tbody tr")).to_have_count(1)
        await manager.get_by_label("Engineer", exact=True).select_option("ENG-002")
        await manager.get_by_role("button", name="Show").click()
        await expect(manager.locator("#engineer-error")).to_have_text(domain.ONE_FILTER)
        await expect(manager.get_by_label("Engineer", exact=True)).to_have_attribute("aria-invalid", "true")
        await manager.goto(f"{site.url}/manager?engineer=ENG-002")
        await expect(card(manager, "Jobs done")).to_have_text("1")
        await expect(card(manager, "First-time fix")).to_have_text("0%")

        # Alerts as they arrive: the story's new requests are there; an SLA breach and a low score
        # appear on the open page without a reload.
        await manager.goto(f"{site.url}/manager")
        await expect(manager.locator("#alerts li.alert-new_request")).to_have_count(3)
        await expect(manager.locator("#alerts-state")).to_have_attribute("data-connected", "yes")
        breached = new_job_id()
        await publish_events(amqp, job_event("job.sla_breached.v1", breached))
        newest = manager.locator("#alerts li").first
        await expect(newest).to_contain_text(breached)
        await expect(newest).to_contain_text("SLA breached")
        await answer_survey(site, token, recent.job_id, csat=1, nps=2)
        await expect(newest).to_contain_text(recent.job_id)
        await expect(newest).to_contain_text("Low score")
        await check_page(manager, "console-manager-dashboard")

        # Reports with their PDFs, each link fresh from reporting.
        await manager.goto(f"{site.url}/manager/reports")
        await expect(manager.locator("ul.reports > li")).to_have_count(3)
        await check_page(manager, "console-manager-reports")
        pdf = await open_report(manager, site, first.job_id)
        assert pdf.startswith(b"%PDF"), pdf[:20]

        # The review queue: the low score first, marked urgent.
        await manager.goto(f"{site.url}/manager/reviews")
        queue = manager.locator("ul.reviews > li")
        await expect(queue.first).to_have_id(f"review-{recent.job_id}")
        await expect(queue.first.locator(".badge.urgent")).to_have_text("Urgent: low score")
        await expect(queue.first).to_contain_text("CSAT 1/5, NPS 2/10")
        await expect(manager.locator(f"#review-{first.job_id} .badge.urgent")).to_have_count(0)
        await check_page(manager, "console-manager-reviews")

        # The engineer, on a phone, sees only their own reviews; a blank memo is refused beside the field.
        engineer = phone_page
        await site.sign_in(engineer, "lim", "/manager/reviews")
        await expect(engineer.locator("ul.reviews > li")).to_have_count(2)
        await expect(engineer.locator(f"#review-{reworked.job_id}")).to_have_count(0)
        await check_page(engineer, "console-engineer-reviews")
        await (
            engineer.locator(f"#review-{first.job_id}").get_by_role("link", name=re.compile("Write the review")).click()
        )
        await engineer.get_by_label(re.compile("Review memo")).fill("   ")
        await engineer.get_by_label(re.compile("Lessons learned")).fill("Keep this lesson")
        await engineer.get_by_role("button", name="Record the review").click()
        await expect(engineer.locator("#memo-error")).to_be_visible()
        await expect(engineer.locator(".notice.refusal")).to_contain_text("correct what is marked below")
        await expect(engineer.get_by_label(re.compile("Review memo"))).to_have_attribute("aria-invalid", "true")
        await expect(engineer.get_by_label(re.compile("Lessons learned"))).to_have_value("Keep this lesson")
        await check_page(engineer, "console-engineer-review-refused", allow=("status of 422",))
        await review_job(engineer, site, first.job_id)
        await expect(engineer.locator(f"#review-{first.job_id}")).to_have_count(0)
        review = await manager_call(site, token, "feedback", "GET", f"/jobs/{first.job_id}/feedback")
        assert review.json()["review"]["reviewer"]["user_id"] == "ENG-001"
        assert review.json()["review"]["lessons"] == [
            "Check the oil cooler fins whenever the thermostatic valve is replaced."
        ]

        # The manager's pages on a phone, and another role refused.
        async with person_page(chromium, "phone") as phone:
            await site.sign_in(phone, "rahman", "/manager")
            await expect(phone.locator("#chart-pareto svg")).to_be_visible()
            await check_page(phone, "console-manager-dashboard")
            await phone.goto(f"{site.url}/manager/reports")
            await check_page(phone, "console-manager-reports")
            await phone.goto(f"{site.url}/manager/reviews")
            await check_page(phone, "console-manager-reviews")
            await phone.goto(f"{site.url}/manager/reviews/{reworked.job_id}")
            await check_page(phone, "console-manager-review-form")
        async with person_page(chromium, "phone") as dispatcher:
            await site.sign_in(dispatcher, "daniel", "/")
            for path in ("/manager", "/manager/reports", "/manager/reviews", f"/manager/reports/{first.job_id}/pdf"):
                response = await dispatcher.goto(f"{site.url}{path}")
                assert response is not None and response.status == 403, path


async def test_the_dashboard_says_when_reporting_is_unavailable_and_the_alerts_still_work(
    test_settings, identity_provider, database_prefix, desktop_page, tmp_path
):
    job_id = new_job_id()
    async with console_site(
        test_settings,
        database_prefix,
        (),
        tmp_path,
        env={"REPORTING_URL": "http://127.0.0.1:9", "FEEDBACK_URL": "http://127.0.0.1:9"},
    ) as site:
        await publish_events(
            test_settings.rabbitmq_url.get_secret_value(), job_event("job.inspection_escalated.v1", job_id)
        )
        await site.sign_in(desktop_page, "rahman", "/manager")
        await expect(desktop_page.locator(".notice.unavailable")).to_contain_text("Reporting is unavailable")
        await expect(desktop_page.locator("#alerts li.alert-escalation")).to_contain_text(job_id)
        await desktop_page.goto(f"{site.url}/manager/reviews")
        await expect(desktop_page.locator(".notice.unavailable")).to_contain_text("Feedback is unavailable")
        response = await desktop_page.goto(f"{site.url}/manager/reports/{job_id}/pdf")
        assert response is not None and response.status == 503
        assert_clean(desktop_page, allow=("status of 503",))
