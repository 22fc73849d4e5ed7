"""Dead letters can be listed without being taken, and replayed to the consumer that failed them: with
the AMQP functions, through every service's admin routes, and with `python -m compressor_kit.deadletters`
(`make dlq`, `make dlq-replay`), an HTTP client that signs in as its own client."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import aio_pika
import httpx
import pytest
from litestar.testing import AsyncTestClient

from compressor_contracts import CloudEvent
from compressor_contracts.events.intake import JobRequested
from compressor_kit.consumer import Consumer
from compressor_kit.deadletters import list_dead_letters, replay
from compressor_kit.http import create_app
from compressor_kit.outbox import UnitOfWork
from compressor_kit.runtime import ServiceDefinition
from compressor_kit.testing import eventually, ready_messages
from compressor_kit.testing.ports import free_port

from .test_consumer import job_requested, publish_raw

DLQ = "dispatch.dead-letters"
FAILED_QUEUE = "dispatch.job-requests"


def dispatch_that_fails_until(fixed: list[bool]) -> ServiceDefinition:
    """A service named dispatch whose job.requested consumer fails until `fixed[0]` is set."""

    async def assign(event: CloudEvent, uow: UnitOfWork) -> None:
        if not fixed[0]:
            raise RuntimeError("no engineer calendar loaded")
        await uow.db.assignments.insert_one({"_id": event.subject}, session=uow.session)

    return ServiceDefinition(
        name="dispatch",
        default_port=0,
        description="test",
        consumers=[lambda runtime: [Consumer(FAILED_QUEUE, {JobRequested: assign})]],
    )


async def put_dead_letter(amqp_url: str, event: CloudEvent, failed_queue: str) -> None:
    """A dead letter as the kit's delivery policy writes one, straight into dispatch's dead-letter queue."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.default_exchange.publish(
            aio_pika.Message(
                event.model_dump_json().encode(),
                content_type="application/cloudevents+json",
                message_id=event.id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers={
                    "x-error": "no engineer calendar loaded",
                    "x-error-type": "RuntimeError",
                    "x-failed-queue": failed_queue,
                    "x-attempts": 3,
                    "x-dead-lettered-at": datetime.now(UTC).isoformat(),
                },
            ),
            routing_key=DLQ,
        )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_dead_letter_is_listed_with_its_reason_and_replayed_after_the_fix(test_settings, test_db):
    fixed = [False]
    url = test_settings.rabbitmq_url.get_secret_value()
    async with AsyncTestClient(create_app(dispatch_that_fails_until(fixed), test_settings)):
        failing, untouched = job_requested("JOB-DL-1"), job_requested("JOB-DL-2")
        for event in (failing, untouched):
            await publish_raw(url, event.model_dump_json().encode())

        async def both_dead_lettered():
            return await ready_messages(url, DLQ) == 2

        await eventually(both_dead_lettered, timeout=30)
        # Dead letters naming another service's queue, and a queue of dispatch that is not on the broker.
        elsewhere, nowhere = job_requested("JOB-DL-3"), job_requested("JOB-DL-4")
        await put_dead_letter(url, elsewhere, "intake.customer-file")
        await put_dead_letter(url, nowhere, "dispatch.not-declared")

        letters = await list_dead_letters(url, ["dispatch"])
        assert {letter.event_id for letter in letters} == {failing.id, untouched.id, elsewhere.id, nowhere.id}
        first = next(letter for letter in letters if letter.event_id == failing.id)
        assert first.failed_queue == FAILED_QUEUE
        assert first.error_type == "RuntimeError" and "no engineer calendar" in first.error
        assert first.event_type == failing.type and first.attempts == test_settings.consumer_max_attempts
        assert await ready_messages(url, DLQ) == 4, "listing must not take messages away"
        assert len(await list_dead_letters(url, ["dispatch"], limit=1)) == 1

        fixed[0] = True
        outcome = await replay(url, "dispatch", [failing.id, elsewhere.id, "no-such-event"])
        assert [letter.event_id for letter in outcome.replayed] == [failing.id]
        [skipped] = outcome.skipped
        assert skipped.letter.event_id == elsewhere.id
        assert skipped.reason == "x-failed-queue 'intake.customer-file' is not a queue of dispatch"
        assert outcome.not_found == ["no-such-event"]

        async def handled():
            return test_db.assignments.find_one({"_id": "JOB-DL-1"})

        await eventually(handled, timeout=30)
        assert await ready_messages(url, DLQ) == 3

        # A queue the caller names but the broker does not have: returned by the broker, not lost.
        missing = await replay(url, "dispatch", [nowhere.id], known_queues=["dispatch.not-declared"])
        assert not missing.replayed
        assert [s.reason for s in missing.skipped] == ["no queue 'dispatch.not-declared' on the broker took it"]
        assert await ready_messages(url, DLQ) == 3
        left = {letter.event_id for letter in await list_dead_letters(url, ["dispatch"])}
        assert left == {untouched.id, elsewhere.id, nowhere.id}
    assert test_db.assignments.find_one({"_id": "JOB-DL-2"}) is None


async def test_the_dead_letter_routes_refuse_a_missing_token_and_a_role_other_than_admin(test_settings, tokens):
    app = create_app(dispatch_that_fails_until([False]), test_settings)
    manager = bearer(tokens.mint("STAFF-MGR-1", ["manager"]))
    transport = httpx.ASGITransport(app=app)  # the guard answers before any handler runs
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for method, path, body in (("GET", "/dead-letters", None), ("POST", "/dead-letters/replay", {"all": True})):
            anonymous = await client.request(method, path, json=body)
            assert anonymous.status_code == 401, anonymous.text
            assert anonymous.headers["content-type"].startswith("application/problem+json")
            refused = await client.request(method, path, json=body, headers=manager)
            assert refused.status_code == 403, refused.text
            assert refused.json()["detail"] == "this route needs one of the roles: admin"


async def test_an_admin_client_lists_and_replays_over_the_service_api_and_unknown_queues_stay(
    test_settings, test_db, identity_provider
):
    fixed = [False]
    url = test_settings.rabbitmq_url.get_secret_value()
    admin = bearer(await identity_provider.machine_token("dlq-replay"))
    without_admin = bearer(await identity_provider.machine_token("demo-driver"))
    async with AsyncTestClient(create_app(dispatch_that_fails_until(fixed), test_settings)) as client:
        failing, untouched = job_requested("JOB-API-1"), job_requested("JOB-API-2")
        for event in (failing, untouched):
            await publish_raw(url, event.model_dump_json().encode())

        async def both_dead_lettered():
            return await ready_messages(url, DLQ) == 2

        await eventually(both_dead_lettered, timeout=30)
        elsewhere = job_requested("JOB-API-3")
        await put_dead_letter(url, elsewhere, "intake.customer-file")

        assert (await client.get("/dead-letters", headers=without_admin)).status_code == 403
        listed = await client.get("/dead-letters", headers=admin)
        assert listed.status_code == 200, listed.text
        body = listed.json()
        assert body["service"] == "dispatch" and body["more"] is False
        by_id = {letter["event_id"]: letter for letter in body["dead_letters"]}
        assert set(by_id) == {failing.id, untouched.id, elsewhere.id}
        assert by_id[failing.id] == {
            "event_id": failing.id,
            "event_type": failing.type,
            "failed_queue": FAILED_QUEUE,
            "error_type": "RuntimeError",
            "error": "no engineer calendar loaded",
            "attempts": test_settings.consumer_max_attempts,
            "dead_lettered_at": by_id[failing.id]["dead_lettered_at"],
        }
        first = (await client.get("/dead-letters?limit=1", headers=admin)).json()
        assert len(first["dead_letters"]) == 1 and first["more"] is True
        assert await ready_messages(url, DLQ) == 3

        # Exactly one of event_ids or all, named in the refusal.
        for sent, fields in (
            ({}, {"event_ids", "all"}),
            ({"event_ids": [failing.id], "all": True}, {"event_ids", "all"}),
            ({"all": False}, {"event_ids", "all"}),
            ({"event_ids": []}, {"event_ids"}),
        ):
            refused = await client.post("/dead-letters/replay", json=sent, headers=admin)
            assert refused.status_code == 422, (sent, refused.text)
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert {e["field"] for e in refused.json()["errors"]} == fields, refused.text
        for sent in ({"event_ids": "not-a-list"}, {"ids": [failing.id]}):
            malformed = await client.post("/dead-letters/replay", json=sent, headers=admin)
            assert malformed.status_code == 400, (sent, malformed.text)
        assert await ready_messages(url, DLQ) == 3

        fixed[0] = True
        chosen = await client.post(
            "/dead-letters/replay", json={"event_ids": [failing.id, elsewhere.id, "no-such-event"]}, headers=admin
        )
        assert chosen.status_code == 200, chosen.text
        answer = chosen.json()
        assert [x["event_id"] for x in answer["replayed"]] == [failing.id]
        assert [(x["dead_letter"]["event_id"], x["reason"]) for x in answer["skipped"]] == [
            (elsewhere.id, "x-failed-queue 'intake.customer-file' is not a queue of dispatch")
        ]
        assert answer["not_found"] == ["no-such-event"]

        async def handled(job_id: str):
            return test_db.assignments.find_one({"_id": job_id})

        await eventually(lambda: handled("JOB-API-1"), timeout=30)

        everything = (await client.post("/dead-letters/replay", json={"all": True}, headers=admin)).json()
        assert [x["event_id"] for x in everything["replayed"]] == [untouched.id]
        assert [x["dead_letter"]["event_id"] for x in everything["skipped"]] == [elsewhere.id]
        await eventually(lambda: handled("JOB-API-2"), timeout=30)
        # The one naming another service's queue is still there, not lost.
        [left] = (await client.get("/dead-letters", headers=admin)).json()["dead_letters"]
        assert left["event_id"] == elsewhere.id
        assert await ready_messages(url, DLQ) == 1


# --- The command line against a service process -----------------------------------------------------


async def cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "compressor_kit.deadletters",
        *args,
        env={k: v for k, v in {**os.environ, **env}.items() if not k.startswith("OIDC_") or k in env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
def dispatch_process(test_settings, tmp_path):
    """The real dispatch service as its own process on a free port (as `make run` starts it); its URL."""
    port = free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "RABBITMQ_URL": test_settings.rabbitmq_url.get_secret_value(),
        "HTTP_PORT": str(port),
        "MONGODB_DATABASE": test_settings.mongodb_database,
        "S3_BUCKET_PREFIX": test_settings.s3_bucket_prefix,
    }
    log = tmp_path / "dispatch.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "dispatch_service"], env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"dispatch not ready: {log.read_text()[-2000:]}"
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


async def test_make_dlq_and_dlq_replay_sign_in_as_their_client_and_put_the_letter_back_on_its_queue(
    test_settings, test_db, identity_provider, dispatch_process
):
    url = test_settings.rabbitmq_url.get_secret_value()
    event = job_requested(f"JOB-CLI-{uuid.uuid4().hex[:6]}")
    await put_dead_letter(url, event, FAILED_QUEUE)
    as_tool = {"OIDC_CLIENT_ID": "dlq-replay", "DISPATCH_URL": dispatch_process}

    # Listed with its reason; a service that is not running is named, and the others still listed.
    intake = f"http://127.0.0.1:{free_port()}"
    status, out, err = await cli("list", "dispatch", "intake", env={**as_tool, "INTAKE_URL": intake})
    assert "dispatch: 1 dead letter(s)" in out and event.id in out
    assert f"from {FAILED_QUEUE}" in out and "RuntimeError: no engineer calendar loaded" in out
    assert status == 1 and f"intake: not reachable at {intake}" in err

    # A client without the admin role is refused, and says so.
    status, out, err = await cli("replay", "dispatch", "--all", env={**as_tool, "OIDC_CLIENT_ID": "demo-driver"})
    assert status == 1 and not out
    assert "dispatch refused client 'demo-driver' (403): this route needs one of the roles: admin" in err
    assert await ready_messages(url, DLQ) == 1

    status, out, err = await cli("replay", "dispatch", "--id", event.id, env=as_tool)
    assert status == 0, err
    assert "replayed 1 dead letter(s) of dispatch" in out and event.id in out

    # Back on dispatch.job-requests, and this time dispatch took the job in.
    async def taken_in():
        return test_db.jobs.find_one({"_id": event.data.job_id})

    await eventually(taken_in, timeout=15)
    assert await ready_messages(url, DLQ) == 0
    status, _, err = await cli("replay", "dispatch", "--id", event.id, env=as_tool)
    assert status == 1 and f"no dead letter of dispatch carries event id {event.id}" in err


def test_the_command_line_needs_its_own_client_and_refuses_the_development_secret_in_production():
    def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("OIDC_") and k != "ENVIRONMENT"}
        return subprocess.run(
            [sys.executable, "-m", "compressor_kit.deadletters", "list", "dispatch"],
            env={**clean, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    unnamed = run({"ENVIRONMENT": "test"})  # the development secret: refused only in production
    assert unnamed.returncode == 1 and "OIDC_CLIENT_ID is not set" in unnamed.stderr
    assert "OIDC_CLIENT_ID=dlq-replay" in unnamed.stderr
    production = run({"ENVIRONMENT": "production", "OIDC_CLIENT_ID": "dlq-replay"})
    assert production.returncode == 1
    assert "OIDC_CLIENT_SECRET is the local provider's development secret" in production.stderr
