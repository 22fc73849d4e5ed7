"""The console against the real servers and the real identity provider: sign-in round trip, the
session cookie, CSRF, sign-out, session expiry, roles, the job board read model, the job page with
reporting's timeline (and its refusal, and its absence), and live updates over Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from console_service.app import SERVICE

from compressor_kit.http import create_app
from compressor_kit.testing import eventually
from compressor_kit.testing.events import publish_events
from compressor_kit.testing.ports import free_port

from .console_story import (
    console_settings,
    job_event,
    new_job_id,
    running_console,
    served,
    service_process,
    sign_in,
)


def _nowhere() -> str:
    return f"http://127.0.0.1:{free_port()}"


async def test_a_dispatcher_signs_in_at_the_provider_and_sees_the_board_with_their_name(
    test_settings, identity_provider
):
    async with running_console(console_settings(test_settings)) as console:
        back = await sign_in(console.client, identity_provider, "daniel")
        assert back.status_code == 303 and back.headers["location"] == "/"
        cookie = next(c for c in back.headers.get_list("set-cookie") if c.startswith("console_session="))
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "path"} <= attributes and "secure" not in attributes
        assert "samesite=lax" in cookie.lower() and "path=/" in cookie.lower()

        board = await console.client.get("/")
        assert board.status_code == 200, board.text
        assert "Daniel Wong" in board.text and "Dispatcher" in board.text
        assert 'name="csrf_token"' in board.text and "Sign out" in board.text
        assert "/static/board.js" in board.text
        stylesheet = await console.client.get("/static/console.css")
        assert stylesheet.status_code == 200
        # Pages and static files alike: only the console, the object store and the provider.
        for answer in (board, stylesheet, anonymous := await console.client.get("/auth/login")):
            policy = answer.headers.get("content-security-policy", "")
            assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, (answer.url, policy)
            assert answer.headers.get("x-content-type-options") == "nosniff"
        assert anonymous.status_code in (302, 303)


async def test_sign_in_returns_to_the_page_asked_for_and_no_other_site(test_settings, identity_provider):
    async with running_console(console_settings(test_settings)) as console:
        anonymous = await console.client.get("/jobs/JOB-2026-000001")
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/auth/login?next=%2Fjobs%2FJOB-2026-000001"
        back = await sign_in(console.client, identity_provider, "rahman", "/jobs/JOB-2026-000001")
        assert back.headers["location"] == "/jobs/JOB-2026-000001"
        elsewhere = await console.client.get("/auth/login", params={"next": "https://evil.example/"})
        assert elsewhere.status_code == 303  # to the provider; the page to return to is the console's /


async def test_a_callback_not_started_in_this_browser_is_refused(test_settings, identity_provider):
    async with running_console(console_settings(test_settings)) as console:
        forged = await console.client.get("/auth/callback", params={"state": "made-up", "code": "made-up"})
        assert forged.status_code == 400 and "console_session" not in forged.headers.get("set-cookie", "")


async def test_sign_out_needs_the_csrf_token_and_ends_the_session(test_settings, identity_provider, test_db):
    async with running_console(console_settings(test_settings)) as console:
        await sign_in(console.client, identity_provider, "daniel")
        refused = await console.client.post("/auth/logout", data={})
        assert refused.status_code == 403 and "Form expired" in refused.text
        assert test_db["sessions"].count_documents({}) == 1
        wrong = await console.client.post("/auth/logout", data={"csrf_token": "guess"})
        assert wrong.status_code == 403

        [session] = test_db["sessions"].find()
        assert session["_id"] != console.client.cookies["console_session"], "the database keeps a digest only"
        out = await console.client.post("/auth/logout", headers={"X-CSRF-Token": session["csrf_token"]})
        assert out.status_code == 303
        assert out.headers["location"].startswith(f"{identity_provider.issuer}/session/end?")
        assert parse_qs(urlsplit(out.headers["location"]).query)["post_logout_redirect_uri"] == [
            "http://127.0.0.1:8000/"
        ]
        assert test_db["sessions"].count_documents({}) == 0
        again = await console.client.get("/")
        assert again.status_code == 303 and again.headers["location"].startswith("/auth/login")


async def test_an_expired_session_returns_to_sign_in_and_then_to_the_page(test_settings, identity_provider, test_db):
    async with running_console(console_settings(test_settings)) as console:
        await sign_in(console.client, identity_provider, "daniel")
        test_db["sessions"].update_many({}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}})
        page = await console.client.get("/", params={"priority": "high"})
        assert page.status_code == 303
        assert page.headers["location"] == "/auth/login?next=%2F%3Fpriority%3Dhigh"
        back = await sign_in(console.client, identity_provider, "daniel", "/?priority=high")
        assert back.headers["location"] == "/?priority=high"
        assert (await console.client.get(back.headers["location"])).status_code == 200


async def test_an_access_token_about_to_expire_is_refreshed_at_the_provider(test_settings, identity_provider, test_db):
    async with running_console(console_settings(test_settings)) as console:
        await sign_in(console.client, identity_provider, "daniel")
        [before] = test_db["sessions"].find()
        test_db["sessions"].update_one({"_id": before["_id"]}, {"$set": {"access_expires_at": datetime.now(UTC)}})
        assert (await console.client.get("/")).status_code == 200
        [after] = test_db["sessions"].find()
        assert after["access_token"] != before["access_token"] and after["access_expires_at"] > datetime.now(UTC)


async def test_a_customer_is_sent_to_the_portal_and_gets_a_polite_403_page_on_staff_pages(
    test_settings, identity_provider
):
    async with running_console(console_settings(test_settings)) as console:
        await sign_in(console.client, identity_provider, "aminah")
        home = await console.client.get("/")
        assert home.status_code == 303 and home.headers["location"] == "/portal"
        for path in ("/jobs/JOB-2026-000001", "/live"):
            page = await console.client.get(path)
            assert page.status_code == 403, path
            assert "Aminah binti Rahman" in page.text and "customer portal" in page.text
            assert "Sign out" in page.text


async def test_job_events_make_the_board_row_once_and_the_board_shows_it(test_settings, identity_provider, test_db):
    job_id = new_job_id()
    requested = job_event("job.requested.v1", job_id)
    async with running_console(console_settings(test_settings)) as console:
        await console.publish(requested, job_event("job.assigned.v1", job_id), requested)  # one redelivered
        await console.publish(job_event("job.sla_at_risk.v1", job_id))
        row = await eventually(lambda: _row(test_db, job_id, "sla", "at_risk"))
        assert row["phase"] == 1 and row["status"] == "open"
        assert row["priority"] == requested.data.priority.value
        assert row["customer_name"] == requested.data.customer.name
        assert row["model_code"] == requested.data.equipment.model_code
        assert row["engineer_id"] and row["engineer_name"] and row["region"]
        assert test_db["inbox"].count_documents({}) == 3

        await sign_in(console.client, identity_provider, "daniel")
        board = await console.client.get("/")
        assert f'id="job-{job_id}"' in board.text and "SLA at risk" in board.text
        assert requested.data.customer.name in board.text
        filtered = await console.client.get("/", params={"engineer": "nobody"})
        assert f'id="job-{job_id}"' not in filtered.text


async def _row(test_db, job_id: str, field: str, value: object) -> dict | None:
    row = test_db["jobs"].find_one({"_id": job_id})
    return row if row and row.get(field) == value else None


async def test_the_job_page_shows_reportings_timeline_its_refusal_and_its_absence(
    test_settings, identity_provider, test_db
):
    job_id = new_job_id()
    try:
        async with service_process("reporting_service", test_settings, test_db.name + "_reporting") as reporting_url:
            settings = console_settings(test_settings, reporting_url=reporting_url)
            async with running_console(settings) as console:
                await console.publish(job_event("job.requested.v1", job_id))
                await eventually(lambda: _row(test_db, job_id, "phase", 1))
                await sign_in(console.client, identity_provider, "daniel")

                async def timeline_shown() -> httpx.Response | None:
                    page = await console.client.get(f"/jobs/{job_id}")
                    return page if "job.requested" in page.text else None

                page = await eventually(timeline_shown)
                assert "Intake" in page.text and "Daniel Wong" in page.text
                unknown = await console.client.get("/jobs/JOB-2026-999999")
                assert (
                    unknown.status_code == 200
                    and "no job &#39;JOB-2026-999999&#39; is known to reporting" in unknown.text
                )
    finally:
        from pymongo import MongoClient

        with MongoClient(test_settings.mongodb_url.get_secret_value()) as client:
            client.drop_database(test_db.name + "_reporting")

    async with running_console(console_settings(test_settings, reporting_url=_nowhere())) as console:
        await sign_in(console.client, identity_provider, "daniel")
        page = await console.client.get(f"/jobs/{job_id}")
        assert page.status_code == 200 and "unavailable" in page.text
        assert "Intake" in page.text, "the board's own row still shows"


async def test_a_change_published_while_a_page_listens_arrives_over_server_sent_events(
    test_settings, identity_provider, test_db
):
    job_id = new_job_id()
    async with served(create_app(SERVICE, console_settings(test_settings))) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as browser:
            await sign_in(browser, identity_provider, "daniel")
            async with browser.stream("GET", "/live") as stream:
                assert stream.status_code == 200
                assert stream.headers["content-type"].startswith("text/event-stream")
                lines = stream.aiter_lines()
                event = await asyncio.wait_for(_next_event(lines), 5)
                assert event[0] == "ready"
                await publish_events(
                    test_settings.rabbitmq_url.get_secret_value(), job_event("job.requested.v1", job_id)
                )
                name, data = await asyncio.wait_for(_next_event(lines), 5)
                assert name == "row"
                change = json.loads(data)
                assert change["job_id"] == job_id and change["column"] == "phase-1"
                assert f'id="job-{job_id}"' in change["html"]


async def _next_event(lines) -> tuple[str, str]:
    name, data = "message", ""
    async for line in lines:
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data += line.split(":", 1)[1].strip()
        elif line == "" and data:
            return name, data
    raise AssertionError("the stream ended")


async def test_every_replica_pushes_every_change_whichever_replica_applied_it(
    test_settings, identity_provider, test_db
):
    """Two replicas (one in the test, one its own process) share the queue and the database: each event
    is applied by one of them, and both pages hear of every row."""
    jobs = [new_job_id() for _ in range(4)]
    async with (
        served(create_app(SERVICE, console_settings(test_settings))) as first,
        service_process("console_service", test_settings, test_db.name) as second,
    ):
        async with httpx.AsyncClient(base_url=first, timeout=10) as browser:
            await sign_in(browser, identity_provider, "rahman")
            cookies = {"console_session": browser.cookies["console_session"]}  # one session, any replica
            async with (
                httpx.AsyncClient(base_url=first, cookies=cookies, timeout=10) as one,
                httpx.AsyncClient(base_url=second, cookies=cookies, timeout=10) as other,
                one.stream("GET", "/live") as first_stream,
                other.stream("GET", "/live") as second_stream,
            ):
                streams = [first_stream.aiter_lines(), second_stream.aiter_lines()]
                for lines in streams:
                    assert (await asyncio.wait_for(_next_event(lines), 5))[0] == "ready"
                url = test_settings.rabbitmq_url.get_secret_value()
                await publish_events(url, *(job_event("job.requested.v1", job_id) for job_id in jobs))
                for lines in streams:
                    seen = set()
                    while seen != set(jobs):
                        name, data = await asyncio.wait_for(_next_event(lines), 5)
                        assert name == "row"
                        seen.add(json.loads(data)["job_id"])


async def test_a_live_page_hears_the_console_while_nothing_changes_and_its_stream_ends_with_the_session(
    test_settings, identity_provider, test_db
):
    settings = console_settings(test_settings, console_live_keepalive_seconds=0.2)
    async with served(create_app(SERVICE, settings)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as browser:
            await sign_in(browser, identity_provider, "daniel")
            async with browser.stream("GET", "/live") as stream:
                lines = stream.aiter_lines()
                assert (await asyncio.wait_for(_next_event(lines), 5))[0] == "ready"
                assert await asyncio.wait_for(anext(lines), 2) == ": still here"
                [session] = test_db["sessions"].find()
                out = await browser.post("/auth/logout", headers={"X-CSRF-Token": session["csrf_token"]})
                assert out.status_code == 303
                rest = await asyncio.wait_for(_all(lines), 3)
                assert not any(line.startswith("event: row") for line in rest)


async def _all(lines) -> list[str]:
    return [line async for line in lines]
