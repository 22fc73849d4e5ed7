"""Stuck outbox events, against the real MongoDB, RabbitMQ and identity provider: the relay gives a parked
event a fresh round of attempts by itself (OUTBOX_STUCK_RETRY_SECONDS, shortened here), alerting again if
it fails again, so it is delivered once its consumer's queue exists without anyone acting; admins list
and release parked events over every service's API (GET /outbox/stuck, POST /outbox/stuck/retry), and
`python -m compressor_kit.outbox_stuck` (`make outbox-stuck`, `make outbox-retry`) does so as its client."""

import asyncio
import logging
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from compressor_contracts import CloudEvent, new_event
from compressor_contracts.examples import example
from compressor_kit.clock import ManualClock
from compressor_kit.http import create_app
from compressor_kit.outbox import UnitOfWork, stuck_count
from compressor_kit.relay import STUCK_ALERT, LeaseLost, OutboxRelay
from compressor_kit.retry import ItemRetry
from compressor_kit.settings import Settings
from compressor_kit.testing import drain_queue, eventually
from compressor_kit.testing.ports import free_port

from .test_deadletters import dispatch_process as dispatch_service  # noqa: F401  (the fixture, by this name)
from .test_outbox import commit_request
from .test_returned_events import INTAKE, JOB_REQUESTS, declare_as_at_start_up, dispatch, request_job, running

REVIVE_AFTER = 1.5


@pytest.fixture
def parks_fast(test_settings: Settings, database_prefix: str) -> Settings:
    """One database per service, a relay that parks an event after 2 quick refusals, and revives it
    after REVIVE_AFTER seconds (an hour by default)."""
    return test_settings.model_copy(
        update={
            "mongodb_database": "",
            "mongodb_database_prefix": database_prefix,
            "outbox_poll_interval_seconds": 0.05,
            "outbox_max_attempts": 2,
            "outbox_retry_first_delay_seconds": 0.05,
            "outbox_retry_max_delay_seconds": 0.1,
            "outbox_stuck_retry_seconds": REVIVE_AFTER,
        }
    )


@pytest.fixture
def stuck_alerts():
    seen: list[logging.LogRecord] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if getattr(record, "alert", None) == STUCK_ALERT:
                seen.append(record)

    handler = Handler(logging.ERROR)
    logger = logging.getLogger("compressor_kit.relay")
    logger.addHandler(handler)
    yield seen
    logger.removeHandler(handler)


async def alerted(alerts: list[logging.LogRecord], *, times: int) -> bool:
    return len(alerts) == times


async def test_a_parked_event_is_tried_again_by_itself_and_delivered_once_its_consumer_queue_exists(
    parks_fast, stuck_alerts
):
    handled: list[str] = []

    async def assign(event: CloudEvent[Any], uow: UnitOfWork) -> None:
        handled.append(event.id)

    # Intake runs; dispatch, which consumes job.requested, is not deployed yet: no queue takes the event.
    async with running(INTAKE, parks_fast) as intake:
        outbox = intake.db.outbox
        first = await request_job(intake, "JOB-EARLY")
        second = await request_job(intake, "JOB-EARLY")  # the same job's next event, behind it

        async def parked() -> dict[str, Any] | None:
            return await outbox.find_one({"_id": first, "status": "stuck"})

        row = await eventually(parked, timeout=10)
        assert row["attempts"] == 2 and "PublishError" in row["last_error"]
        await eventually(lambda: alerted(stuck_alerts, times=1), timeout=5)

        # Its round comes again by itself, fails again (still no queue), and is parked and alerted again.
        async def parked_again() -> dict[str, Any] | None:
            return await outbox.find_one({"_id": first, "status": "stuck", "revivals": 1})

        again = await eventually(parked_again, timeout=10)
        waited = (again["revived_at"] - row["stuck_since"]).total_seconds()  # both by the server's clock
        assert REVIVE_AFTER <= waited < REVIVE_AFTER + 5, waited
        assert again["stuck_since"] > again["revived_at"]
        await eventually(lambda: alerted(stuck_alerts, times=2), timeout=5)
        assert (await outbox.find_one({"_id": second}))["status"] == "pending"  # never overtook it

        # Dispatch is deployed: its start-up declares its queue. Nobody releases the event; the relay's
        # next revival delivers it, then the job's next event, in order.
        async with running(dispatch(assign), parks_fast):

            async def both_handled() -> bool:
                return handled == [first, second]

            await eventually(both_handled, timeout=REVIVE_AFTER * 2 + 10)

            async def both_marked() -> bool:
                return await outbox.count_documents({"_id": {"$in": [first, second]}, "status": "published"}) == 2

            await eventually(both_marked, timeout=10)
        assert await stuck_count(intake.db) == 0
        assert intake.relay.revived_total >= 2


async def test_only_the_lease_holder_revives_a_parked_event(wiring):
    """A relay paused while its lease ran out and was taken over revives nothing (fenced like its
    publishes); the holder does, once the event has waited its time."""
    outbox, publish = wiring
    committed = await commit_request(outbox, "JOB-PARKED")
    await outbox.db.outbox.update_one(
        {"_id": committed},
        [{"$set": {"status": "stuck", "attempts": 2, "stuck_since": "$$NOW", "next_attempt_at": "$$NOW"}}],
    )
    revive_at_once = ItemRetry(max_attempts=2, revive_after_seconds=0.001)
    paused = OutboxRelay(outbox, publish, lease_seconds=1.5, clock=ManualClock(), retry=revive_at_once)
    successor = OutboxRelay(outbox, publish, lease_seconds=1.5, retry=revive_at_once)
    assert await paused.acquire_lease()
    await eventually(successor.acquire_lease, timeout=5)
    with pytest.raises(LeaseLost):
        await paused.publish_pending()
    row = await outbox.db.outbox.find_one({"_id": committed})
    assert row["status"] == "stuck" and "revivals" not in row
    assert await successor.publish_pending() == 1
    row = await outbox.db.outbox.find_one({"_id": committed})
    assert row["status"] == "published" and row["revivals"] == 1 and row["attempts"] == 0


# --- The admin routes -----------------------------------------------------------------------------------


@pytest.fixture
def parks_for_good(test_settings: Settings) -> Settings:
    """A relay that parks an event after 2 quick refusals and leaves it parked for the test (an hour)."""
    return test_settings.model_copy(
        update={
            "outbox_poll_interval_seconds": 0.05,
            "outbox_max_attempts": 2,
            "outbox_retry_first_delay_seconds": 0.05,
            "outbox_retry_max_delay_seconds": 0.1,
        }
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_stuck_event_routes_refuse_a_missing_token_and_a_role_other_than_admin(test_settings, tokens):
    app = create_app(INTAKE, test_settings)
    manager = bearer(tokens.mint("STAFF-MGR-1", ["manager"]))
    transport = httpx.ASGITransport(app=app)  # the guard answers before any handler runs
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for method, path, body in (("GET", "/outbox/stuck", None), ("POST", "/outbox/stuck/retry", {"all": True})):
            anonymous = await client.request(method, path, json=body)
            assert anonymous.status_code == 401, anonymous.text
            assert anonymous.headers["content-type"].startswith("application/problem+json")
            refused = await client.request(method, path, json=body, headers=manager)
            assert refused.status_code == 403, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["detail"] == "this route needs one of the roles: admin"


@pytest.fixture
async def intake_api(parks_for_good):
    """Intake's app with its runtime started in this test's event loop (which the requests share): the
    client and the runtime."""
    app = create_app(INTAKE, parks_for_good)
    runtime = app.state.runtime
    await runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield client, runtime
    finally:
        await runtime.stop()


async def test_an_admin_lists_a_parked_event_and_releases_it_once_its_queue_exists(
    parks_for_good, intake_api, identity_provider
):
    client, intake = intake_api
    settings = parks_for_good
    admin = bearer(await identity_provider.machine_token("dlq-replay"))
    without_admin = bearer(await identity_provider.machine_token("demo-driver"))
    url = settings.rabbitmq_url.get_secret_value()
    # No consumer of job.requested is deployed yet: the relay parks the event.
    parked = await request_job(intake, "JOB-PARKED")
    await eventually(lambda: intake.db.outbox.find_one({"_id": parked, "status": "stuck"}), timeout=10)

    assert (await client.get("/outbox/stuck", headers=without_admin)).status_code == 403
    listed = await client.get("/outbox/stuck", headers=admin)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["service"] == "intake" and body["more"] is False
    [stuck] = body["stuck"]
    assert stuck["event_id"] == parked and stuck["job_id"] == "JOB-PARKED"
    assert stuck["event_type"] == "com.compressorservice.job.requested.v1"
    assert stuck["attempts"] == 2 and "NO_ROUTE" in stuck["last_error"] and stuck["revivals"] == 0
    since = datetime.fromisoformat(stuck["stuck_since"])
    by_itself = datetime.fromisoformat(stuck["retried_by_itself_at"])
    assert abs((by_itself - since).total_seconds() - settings.outbox_stuck_retry_seconds) < 1

    # Exactly one of event_ids or all, named in the refusal; nothing released meanwhile.
    for sent, fields in (
        ({}, {"event_ids", "all"}),
        ({"event_ids": [parked], "all": True}, {"event_ids", "all"}),
        ({"all": False}, {"event_ids", "all"}),
        ({"event_ids": []}, {"event_ids"}),
    ):
        refused = await client.post("/outbox/stuck/retry", json=sent, headers=admin)
        assert refused.status_code == 422, (sent, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert {e["field"] for e in refused.json()["errors"]} == fields, refused.text
    assert (await client.post("/outbox/stuck/retry", json={"ids": [parked]}, headers=admin)).status_code == 400
    denied = await client.post("/outbox/stuck/retry", json={"all": True}, headers=without_admin)
    assert denied.status_code == 403
    assert await stuck_count(intake.db) == 1

    # Dispatch is deployed (its queue declared); the admin releases the event instead of waiting an hour.
    await declare_as_at_start_up(settings, "dispatch")
    released = await client.post("/outbox/stuck/retry", json={"event_ids": [parked, "no-such-event"]}, headers=admin)
    assert released.status_code == 200, released.text
    assert released.json() == {"service": "intake", "retried": 1, "not_found": ["no-such-event"]}
    [delivered] = await drain_queue(url, JOB_REQUESTS, expect=1, timeout=10)
    assert delivered.message_id == parked
    await eventually(lambda: intake.db.outbox.find_one({"_id": parked, "status": "published"}), timeout=10)
    assert (await client.get("/outbox/stuck", headers=admin)).json()["stuck"] == []
    again = await client.post("/outbox/stuck/retry", json={"all": True}, headers=admin)
    assert again.json() == {"service": "intake", "retried": 0, "not_found": []}


# --- The command line against a service process -----------------------------------------------------


async def outbox_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "compressor_kit.outbox_stuck",
        *args,
        env={k: v for k, v in {**os.environ, **env}.items() if not k.startswith("OIDC_") or k in env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def parked_row(event: CloudEvent[Any]) -> dict[str, Any]:
    """An outbox row as the relay leaves an event it parked (to be retried by itself in an hour)."""
    now = datetime.now(UTC)
    return {
        "_id": event.id,
        "seq": 0,
        "routing_key": event.data.routing_key(),
        "type": event.type,
        "correlation_id": event.correlationid,
        "subject": event.subject,
        "body": event.model_dump_json(),
        "trace": {},
        "status": "stuck",
        "attempts": 10,
        "created_at": now - timedelta(minutes=20),
        "last_error": "<PublishError: NO_ROUTE>",
        "last_attempt_at": now,
        "stuck_since": now,
        "next_attempt_at": now + timedelta(hours=1),
    }


async def test_make_outbox_stuck_and_outbox_retry_sign_in_as_their_client_and_release_the_event(
    test_settings,
    test_db,
    identity_provider,
    dispatch_service,  # noqa: F811  (the fixture imported above)
):
    url = test_settings.rabbitmq_url.get_secret_value()
    assigned = example("job.assigned.v1").model_copy(update={"job_id": f"JOB-CLI-{uuid.uuid4().hex[:6]}"})
    event = new_event(assigned, source_service="dispatch", subject=assigned.subject())
    test_db.outbox.insert_one(parked_row(event))
    as_tool = {"OIDC_CLIENT_ID": "dlq-replay", "DISPATCH_URL": dispatch_service}

    # Listed with why; a service that is not running is named, and the others still listed.
    intake = f"http://127.0.0.1:{free_port()}"
    status, out, err = await outbox_cli("list", "dispatch", "intake", env={**as_tool, "INTAKE_URL": intake})
    assert "dispatch: 1 stuck event(s)" in out and event.id in out, out
    assert f"job {assigned.job_id}" in out and "after 10 attempt(s)" in out and "NO_ROUTE" in out
    assert status == 1 and f"intake: not reachable at {intake}" in err

    # A client without the admin role is refused, and says so.
    status, out, err = await outbox_cli("retry", "dispatch", "--all", env={**as_tool, "OIDC_CLIENT_ID": "demo-driver"})
    assert status == 1 and not out
    assert "dispatch refused client 'demo-driver' (403): this route needs one of the roles: admin" in err
    assert test_db.outbox.find_one({"_id": event.id})["status"] == "stuck"

    # Its consumers exist now (reporting's timeline takes every job event): released, it is published.
    await declare_as_at_start_up(test_settings, "reporting")
    status, out, err = await outbox_cli("retry", "dispatch", "--id", event.id, env=as_tool)
    assert status == 0, err
    assert "retried 1 stuck event(s) of dispatch" in out
    [delivered] = await drain_queue(url, "reporting.timeline", expect=1, timeout=15)
    assert delivered.message_id == event.id

    async def published():
        return test_db.outbox.find_one({"_id": event.id, "status": "published"})

    await eventually(published, timeout=15)
    status, out, err = await outbox_cli("list", "dispatch", env=as_tool)
    assert status == 0 and "dispatch: no stuck events" in out
    status, _, err = await outbox_cli("retry", "dispatch", "--id", event.id, env=as_tool)
    assert status == 1 and f"dispatch has no stuck event {event.id}" in err
