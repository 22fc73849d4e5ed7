"""The dispatcher's pages: the ranking rules (in process), then the queue, the assignment and the schedule
in a real browser against intake and dispatch, signed in at the provider."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from console_service.dispatching import domain

from compressor_kit.refusals import Refusal
from compressor_kit.testing.browser import assert_accessible, assert_clean, assert_fits, screenshot
from demo.flow import Office, open_customer_file
from demo.people import Person

from .site import console_site
from .steps_dispatching import assign, fill_assignment, open_queue, open_schedule

# --- the rules, in process -----------------------------------------------------------------------

NOW = datetime(2030, 1, 7, 1, 0, tzinfo=UTC)  # Monday 09:00 in Kuala Lumpur


def engineer(eid: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "engineer_id": eid,
        "name": f"Engineer {eid}",
        "skills": {"compressor_types": ["oil_injected_screw"], "brands": ["Atlas Copco"], "certifications": []},
        "regions": ["central"],
        "calendar": {
            "timezone": "Asia/Kuala_Lumpur",
            "shifts": [{"weekday": d, "start": "08:00", "end": "17:00"} for d in range(5)],
            "leave": [],
        },
        "capacity_per_day": 4,
        "active": True,
    }
    data.update(changes)
    return data


def job(job_id: str = "JOB-1", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "job_id": job_id,
        "status": "unassigned",
        "priority": "high",
        "requested_at": NOW.isoformat(),
        "customer": {"customer_id": "C-1", "name": "Seri Murni"},
        "site": {"site_id": "S-1", "name": "Plant 2", "city": "Shah Alam", "region": "central"},
        "equipment": {"compressor_type": "oil_injected_screw", "brand": "Atlas Copco", "model": "GA37"},
        "engineer": None,
        "scheduled_window": None,
        "sla": {"arrive_by": {"due_at": (NOW + timedelta(hours=8)).isoformat()}},
    }
    data.update(changes)
    return data


def booked(job_id: str, eid: str, start: datetime, hours: int = 2) -> dict[str, Any]:
    return job(
        job_id,
        status="assigned",
        engineer={"engineer_id": eid, "name": eid},
        scheduled_window={"start": start.isoformat(), "end": (start + timedelta(hours=hours)).isoformat()},
    )


def ranked(engineers: list[dict[str, Any]], jobs: list[dict[str, Any]], the_job: dict[str, Any]) -> domain.Ranking:
    profiles = [domain.Engineer.of(e) for e in engineers]
    return domain.rank(the_job, profiles, domain.bookings_of(jobs, profiles), NOW)


def test_the_suggestion_follows_the_matchers_rules_and_says_why_the_others_were_not_chosen():
    engineers = [
        engineer("ENG-001"),
        engineer("ENG-002"),  # same slot, more jobs booked
        engineer("ENG-003", regions=["northern"]),
        engineer("ENG-004", active=False),
        engineer("ENG-005", skills={"compressor_types": ["piston"], "brands": ["Kaeser"], "certifications": []}),
    ]
    jobs = [booked("JOB-0", "ENG-002", NOW + timedelta(hours=6))]
    ranking = ranked(engineers, jobs, job())
    assert ranking.suggestion is not None and ranking.suggestion.engineer.engineer_id == "ENG-001"
    assert ranking.suggestion.standing == domain.SUGGESTED
    assert ranking.suggestion.slot is not None and ranking.suggestion.slot.start == NOW
    assert "covers region central" in ranking.suggestion.reasons
    assert [r.engineer.engineer_id for r in ranking.eligible] == ["ENG-001", "ENG-002"]
    why_not = {r.engineer.engineer_id: r.reasons[-1] for r in ranking.not_eligible}
    assert why_not == {
        "ENG-003": "does not cover region central",
        "ENG-004": "inactive",
        "ENG-005": "not skilled in oil injected screw compressors and not trained on the Atlas Copco brand",
    }


def test_an_engineer_free_only_after_the_target_comes_after_those_in_time_and_leave_and_capacity_count():
    engineers = [
        engineer("ENG-001", capacity_per_day=1),  # full today: only tomorrow, after the 8-hour target
        engineer(
            "ENG-002", calendar={**engineer("x")["calendar"], "leave": [{"start": "2030-01-07", "end": "2030-01-07"}]}
        ),
        engineer("ENG-003", regions=["central"]),
    ]
    jobs = [booked("JOB-0", "ENG-001", NOW + timedelta(hours=1)), booked("JOB-9", "ENG-003", NOW)]
    ranking = ranked(engineers, jobs, job())
    standings = [(r.engineer.engineer_id, r.standing) for r in ranking.ranks]
    # ENG-003 is free after its 2-hour visit: in time. ENG-001 (full) and ENG-002 (on leave) only tomorrow
    # at 08:00, the same slot: fewer jobs booked first.
    assert standings == [("ENG-003", "suggested"), ("ENG-002", "later"), ("ENG-001", "later")]
    assert any("on leave until after" in reason for reason in ranking.ranks[1].reasons)
    assert any("fully booked (capacity 1 a day)" in reason for reason in ranking.ranks[2].reasons)
    assert ranking.suggestion is not None and ranking.suggestion.slot is not None
    assert ranking.suggestion.slot.start == NOW + timedelta(hours=2)


def test_a_reassignment_leaves_out_the_engineer_who_has_the_job_and_nobody_fitting_means_no_suggestion():
    assigned = booked("JOB-1", "ENG-001", NOW)
    ranking = ranked([engineer("ENG-001"), engineer("ENG-002", regions=["southern"])], [assigned], assigned)
    assert [r.engineer.engineer_id for r in ranking.ranks] == ["ENG-002"]
    assert ranking.suggestion is None


def test_the_schedule_shows_each_engineers_day_with_leave_bookings_and_capacity_left():
    engineers = [
        domain.Engineer.of(engineer("ENG-001")),
        domain.Engineer.of(
            engineer(
                "ENG-002",
                calendar={
                    **engineer("x")["calendar"],
                    "leave": [{"start": "2030-01-06", "end": "2030-01-08", "reason": "annual leave"}],
                },
            )
        ),
    ]
    # Booked 17:00 UTC on the 6th: the 7th in Kuala Lumpur, the day dispatch books it against.
    jobs = [
        booked("JOB-1", "ENG-001", datetime(2030, 1, 6, 17, 0, tzinfo=UTC)),
        job("JOB-2"),
        {**booked("JOB-3", "ENG-001", NOW), "status": "cancelled"},
    ]
    rows = domain.schedule(date(2030, 1, 7), engineers, domain.bookings_of(jobs, engineers))
    first, second = rows
    assert [b.job_id for b in first.booked] == ["JOB-1"]
    assert (first.capacity, first.free, first.state, first.shift_text) == (4, 3, "working", "08:00 to 17:00")
    assert (second.capacity, second.state, second.leave and second.leave[2]) == (0, "on leave", "annual leave")
    saturday = domain.schedule(date(2030, 1, 12), engineers[:1], {})
    assert (saturday[0].state, saturday[0].capacity) == ("off", 0)


def test_the_form_becomes_the_apis_body_with_the_window_in_the_engineers_time():
    engineers = {"ENG-001": domain.Engineer.of(engineer("ENG-001"))}
    assert domain.assignment_body({"engineer_id": " ENG-001 ", "reason": "On call"}, engineers) == {
        "engineer_id": "ENG-001",
        "reason": "On call",
    }
    body = domain.assignment_body(
        {
            "engineer_id": "ENG-001",
            "reason": "r",
            "scheduled_window.start": "2030-01-07T14:00",
            "scheduled_window.end": "2030-01-07T16:00",
        },
        engineers,
    )
    assert body["scheduled_window"] == {"start": "2030-01-07T14:00:00+08:00", "end": "2030-01-07T16:00:00+08:00"}
    with pytest.raises(Refusal) as refused:
        domain.assignment_body(
            {"engineer_id": "ENG-001", "reason": "r", "scheduled_window.start": "2030-01-07T14:00"}, engineers
        )
    assert refused.value.field == "scheduled_window.end"
    with pytest.raises(Refusal):
        domain.day_of("2030-13-40", date(2030, 1, 7))
    assert domain.day_of(None, date(2030, 1, 7)) == date(2030, 1, 7)


# --- in a real browser ---------------------------------------------------------------------------

REGION = "sabah"  # nobody among the seed engineers covers it: the matcher leaves the job unassigned


async def _call(http: httpx.AsyncClient, token: str, method: str, url: str, body: Any = None) -> Any:
    response = await http.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 300, f"{method} {url}: {response.status_code} {response.text[:500]}"
    return response.json()


async def _raise_unassigned_job(reception: Person) -> str:
    """Reception records a call for a unit in a region nobody covers (demo/flow.py's customer file)."""
    customer_id, site_id, equipment_id = await open_customer_file(
        reception, uuid.uuid4().hex[:6].upper(), region=REGION
    )
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
        },
    )
    job_id: str = request["job_id"]
    return job_id


async def _dispatch_job(http: httpx.AsyncClient, dispatch: str, token: str, job_id: str) -> dict[str, Any]:
    for _ in range(150):
        response = await http.get(f"{dispatch}/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"})
        if response.status_code == 200:
            found: dict[str, Any] = response.json()
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"dispatch never heard of {job_id}")


async def test_a_dispatcher_assigns_from_the_queue_reassigns_once_and_reads_the_schedule(
    test_settings, identity_provider, database_prefix, desktop_page, phone_page, chromium, tmp_path
):
    dispatcher = (await identity_provider.sign_in("daniel")).access_token
    async with (
        console_site(test_settings, database_prefix, ("intake", "dispatch"), tmp_path) as site,
        httpx.AsyncClient(timeout=10) as http,
    ):
        dispatch = site.service_url("dispatch")
        job_id = await _raise_unassigned_job(Office(site.stack.urls(), http, test_settings).reception)
        job = await _dispatch_job(http, dispatch, dispatcher, job_id)
        assert job["status"] == "unassigned", job
        # The organisation staffs the region afterwards (as demo/flow.py's staff_engineers_for does).
        crew = await _call(
            http,
            dispatcher,
            "POST",
            f"{dispatch}/engineers",
            {
                "name": "Field crew Sabah",
                "skills": {"compressor_types": ["oil_injected_screw"], "brands": ["Atlas Copco"], "certifications": []},
                "regions": [REGION],
                "calendar": {
                    "timezone": "Asia/Kuala_Lumpur",
                    "shifts": [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)],
                    "leave": [],
                },
                "capacity_per_day": 12,
            },
        )
        crew_id = crew["engineer_id"]

        # The queue: the matcher's reason and the console's suggestion with its reasons.
        page = desktop_page
        await site.sign_in(page, "daniel", "/dispatch")
        await open_queue(page, site, job_id)
        card = page.locator(f"#job-{job_id}")
        await card.get_by_text(f"does not cover region {REGION}").first.wait_for()
        assert "Matcher:" in await card.inner_text()
        await card.get_by_role("heading", name=f"Suggested: Field crew Sabah ({crew_id})").wait_for()
        assert await card.get_by_text(f"covers region {REGION}").is_visible()
        assert await card.get_by_label("Engineer").input_value() == crew_id
        await assert_accessible(page)
        assert_clean(page)
        await screenshot(page, "console-dispatch-queue")
        await site.sign_in(phone_page, "daniel", "/dispatch")
        await phone_page.locator(f"#job-{job_id}").get_by_role("heading", name="Suggested: Field crew Sabah").wait_for()
        await assert_fits(phone_page)
        await assert_accessible(phone_page)
        await screenshot(phone_page, "console-dispatch-queue")

        # A reason of blanks: dispatch refuses it, shown beside the field; the engineer chosen is kept.
        await card.get_by_label("Engineer").select_option("ENG-001")
        await card.get_by_label("Reason").fill("   ")
        await card.get_by_role("button", name="Assign").click()
        await page.wait_for_url(f"{site.url}/dispatch/jobs/{job_id}/assignment")
        reason_error = page.locator("#reason-error")
        await reason_error.wait_for()
        assert await page.get_by_label("Reason").get_attribute("aria-invalid") == "true"
        assert await page.get_by_label("Engineer").input_value() == "ENG-001"
        assert (await _dispatch_job(http, dispatch, dispatcher, job_id))["status"] == "unassigned"
        await assert_accessible(page)
        assert_clean(page, allow=("status of 422",))
        await screenshot(page, "console-dispatch-refused")

        # demo/flow.py's manual assignment: ENG-001 with its reason.
        confirmation = await assign(page, site, job_id)
        assert "Lim Wei Jie (ENG-001)" in confirmation
        job = await _dispatch_job(http, dispatch, dispatcher, job_id)
        assert (job["engineer"]["engineer_id"], job["assignment_mode"]) == ("ENG-001", "manual")
        assert job["reason"] == "Nobody free within the target; Lim takes it on call."
        await open_queue(page, site)
        assert await page.locator(f"#job-{job_id}").count() == 0

        # Reassign, the same form sent twice at once: it acts once, and both land on its result.
        await page.goto(f"{site.url}/dispatch/jobs/{job_id}")
        await page.get_by_role("heading", name="Reassign").wait_for()
        await fill_assignment(page, crew_id, "Field crew Sabah is on the island today.")
        form = page.locator("form.assign")
        fields = {
            name: await form.locator(f"[name='{name}']").input_value()
            for name in ("csrf_token", "form_key", "engineer_id", "reason")
        }
        action = f"{site.url}/dispatch/jobs/{job_id}/assignment"
        first, second = await asyncio.gather(
            page.request.post(action, form=fields), page.request.post(action, form=fields)
        )
        for response in (first, second):
            assert response.status == 200 and response.url.endswith(f"/dispatch/jobs/{job_id}?assigned=1"), (
                response.status,
                response.url,
                (await response.text())[:300],
            )
        job = await _dispatch_job(http, dispatch, dispatcher, job_id)
        assert (job["engineer"]["engineer_id"], job["assignment_revision"]) == (crew_id, 2)

        await page.goto(f"{site.url}/dispatch/jobs/{job_id}?assigned=1")
        await page.get_by_role("status").filter(has_text=f"Field crew Sabah ({crew_id})").wait_for()
        await assert_accessible(page)
        assert_clean(page, allow=("status of 422",))
        await screenshot(page, "console-dispatch-job")

        # The schedule on the visit's day: the crew's booking; the day links move by one day.
        visit = datetime.fromisoformat(job["scheduled_window"]["start"])
        day = visit.astimezone(domain.Engineer.of(crew).zone).date()
        await open_schedule(page, site, day)
        row = page.get_by_role("row").filter(has_text="Field crew Sabah")
        await row.get_by_role("link", name=job_id).wait_for()
        assert "1 of 12" in await row.inner_text()
        assert await page.get_by_role("row").filter(has_text="Lim Wei Jie").count() == 1
        await assert_accessible(page)
        await screenshot(page, "console-dispatch-schedule")
        await page.get_by_role("link", name="→").click()
        await page.wait_for_url(f"{site.url}/dispatch/schedule?day={(day + timedelta(days=1)).isoformat()}")
        assert_clean(page, allow=("status of 422",))

        # On a phone: the schedule as a list per engineer, and the job's page.
        await open_schedule(phone_page, site, day)
        await phone_page.get_by_role("link", name=job_id).wait_for()
        await assert_fits(phone_page)
        await assert_accessible(phone_page)
        await screenshot(phone_page, "console-dispatch-schedule")
        await phone_page.goto(f"{site.url}/dispatch/jobs/{job_id}")
        await phone_page.get_by_role("heading", name="Reassign").wait_for()
        await assert_fits(phone_page)
        await screenshot(phone_page, "console-dispatch-job")
        assert_clean(phone_page)

        # Another role: reception may not open the dispatcher's pages, nor post its form.
        context = await chromium.new_context()
        try:
            page = await context.new_page()
            await site.sign_in(page, "aisyah", "/dispatch")
            await page.get_by_role("heading", name="This page is not available to you").wait_for()
            for path in ("/dispatch", "/dispatch/schedule", f"/dispatch/jobs/{job_id}"):
                response = await page.goto(f"{site.url}{path}")
                assert response is not None and response.status == 403, path
            csrf = await page.locator("input[name=csrf_token]").first.input_value()
            refused = await page.request.post(
                f"{site.url}/dispatch/jobs/{job_id}/assignment",
                form={"csrf_token": csrf, "engineer_id": "ENG-001", "reason": "Reception tries it."},
                max_redirects=0,
            )
            assert refused.status == 403
        finally:
            await context.close()
        assert (await _dispatch_job(http, dispatch, dispatcher, job_id))["assignment_revision"] == 2
