"""An outage of MongoDB is not a poison message: consumers hold their events and spend no attempt, resume
by themselves when it is back, and dead-letter nothing; HTTP writes meanwhile answer 503 promptly.

The service runs in this process against a mongod of the test's own, stopped and started at will.
Settings are shortened so that the outage is a "15-minute equivalent": a consumer that counted MongoDB's
absence against its events (3 attempts of at most 1 s each) would have dead-lettered every one of them
several times over, and a held event reaches the hold limit (standing in for RabbitMQ's consumer_timeout)
several times, so it is put back in its queue as well.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import aio_pika
import pytest
from litestar import post
from litestar.di import NamedDependency
from litestar.testing import AsyncTestClient
from pydantic import SecretStr
from pymongo import MongoClient, client_session_shared

from compressor_contracts import CONTENT_TYPE, EXCHANGE, CloudEvent, StaffRole, new_event
from compressor_contracts.events.intake import JobRequested
from compressor_contracts.examples import example
from compressor_kit.auth import DevelopmentTokens, requires
from compressor_kit.consumer import Consumer
from compressor_kit.http import create_app
from compressor_kit.outbox import UnitOfWork
from compressor_kit.runtime import Runtime, ServiceDefinition
from compressor_kit.settings import Settings
from compressor_kit.testing import (
    RABBITMQ_HOST,
    add_user,
    delete_user,
    eventually,
    ready_messages,
    set_permissions,
    set_topic_permissions,
    unique,
)

from .servers import Mongod

_spec = importlib.util.spec_from_file_location("infra_access", Path(__file__).parents[2] / "infra" / "access.py")
access = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(access)

QUEUE = "dispatch.job-requests"
DEAD_LETTERS = "dispatch.dead-letters"
PREFETCH = 4
OUTAGE_SECONDS = 15.0  # 5 times a whole attempt budget, 5 times the hold limit
DATABASE = "outage"


@pytest.fixture
def mongod(tmp_path):
    server = Mongod(tmp_path / "mongod")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(test_settings: Settings, mongod: Mongod) -> Settings:
    return test_settings.model_copy(
        update={
            "mongodb_url": SecretStr(mongod.url),
            "mongodb_database": DATABASE,
            "mongodb_timeout_ms": 300,
            "mongodb_transaction_timeout_seconds": 1.0,
            "consumer_max_attempts": 3,
            "consumer_retry_backoff_seconds": 0.01,
            "consumer_outage_hold_seconds": 3.0,
            "consumer_outage_retry_seconds": 0.5,
            "rabbitmq_prefetch": PREFETCH,
        }
    )


async def count_handling(event: CloudEvent[Any], uow: UnitOfWork) -> None:
    await uow.db.handled.update_one({"_id": event.id}, {"$inc": {"times": 1}}, upsert=True, session=uow.session)


@post("/notes", **requires(StaffRole.MANAGER), status_code=201)
async def add_note(runtime: NamedDependency[Runtime[Settings]]) -> dict[str, str]:
    await runtime.outbox.transact(lambda uow: uow.db.notes.insert_one({"text": "kept"}, session=uow.session))
    return {"text": "kept"}


def dispatch() -> ServiceDefinition[Settings]:
    return ServiceDefinition(
        name="dispatch",
        default_port=0,
        description="a consumer and a write, for the outage",
        route_handlers=[add_note],
        consumers=[lambda runtime: [Consumer(QUEUE, {JobRequested: count_handling})]],
        indexes={"handled": [], "notes": []},
    )


def job_requested(n: int) -> CloudEvent[Any]:
    job_id = f"JOB-{n:04d}"
    data = example("job.requested.v1").model_copy(update={"job_id": job_id})
    return new_event(data, source_service="intake", subject=job_id)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def publish(amqp_url: str, events: list[CloudEvent[Any]], *, user_id: str | None = None) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EXCHANGE)
        for event in events:
            message = aio_pika.Message(
                event.model_dump_json().encode(),
                content_type=CONTENT_TYPE,
                message_id=event.id,
                delivery_mode=2,
                user_id=user_id,
            )
            await exchange.publish(message, routing_key=event.data.routing_key())


async def test_events_consumed_during_a_long_mongodb_outage_are_each_handled_once_after_it_and_none_dead_lettered(
    settings, mongod, monkeypatch
):
    # The shortened clock: with_transaction's own retry limit (a fixed 120 s, which made a real outage
    # dead-letter after about 10 minutes) down to 1 s, like the transaction limit in `settings`.
    monkeypatch.setattr(client_session_shared, "_WITH_TRANSACTION_RETRY_TIME_LIMIT", 1.0)
    # Room for contention right after the outage: the held events all retry at once, and on a busy
    # machine their write conflicts outlast the shortened 1 s limit, which spends real attempts (a
    # fresh-clone run dead-lettered one so); the outage itself must spend none, which is what is tested.
    settings = settings.model_copy(update={"consumer_max_attempts": 10})
    url = settings.rabbitmq_url.get_secret_value()
    delivery_log = Records()
    logging.getLogger("compressor_kit.delivery").addHandler(delivery_log)
    app = create_app(dispatch(), settings)
    try:
        async with AsyncTestClient(app):
            before = [job_requested(n) for n in range(2)]
            during = [job_requested(n) for n in range(2, 14)]
            await publish(url, before)
            with MongoClient(mongod.url) as mongo:

                async def handled_before() -> bool:
                    return mongo[DATABASE].handled.count_documents({}) == len(before)

                await eventually(handled_before, timeout=20)

            await asyncio.to_thread(mongod.stop)
            down = time.monotonic()
            await publish(url, during)
            waiting_least = len(during)
            while time.monotonic() - down < OUTAGE_SECONDS:
                # No churn: the consumer holds at most its prefetch, the rest waits in RabbitMQ, and
                # nothing is dead-lettered.
                assert await ready_messages(url, DEAD_LETTERS) == 0
                waiting_least = min(waiting_least, await ready_messages(url, QUEUE))
                await asyncio.sleep(0.5)
            assert waiting_least >= len(during) - PREFETCH
            await asyncio.to_thread(mongod.start)

            with MongoClient(mongod.url) as mongo:

                async def all_handled() -> bool:
                    return mongo[DATABASE].handled.count_documents({}) == len(before) + len(during)

                await eventually(all_handled, timeout=60, interval=0.2)
                times = {row["_id"]: row["times"] for row in mongo[DATABASE].handled.find()}
            assert times == {event.id: 1 for event in before + during}
            assert await ready_messages(url, QUEUE) == 0
            assert await ready_messages(url, DEAD_LETTERS) == 0
    finally:
        logging.getLogger("compressor_kit.delivery").removeHandler(delivery_log)
    # The hold limit was reached during the outage: events went back to their queue without an attempt spent.
    assert any("put" in m and "back at the end of" in m for m in delivery_log.messages), delivery_log.messages
    assert not any("dead-lettering" in m for m in delivery_log.messages)


async def test_an_http_write_during_a_mongodb_outage_answers_503_problem_json_promptly(settings, mongod):
    tokens = DevelopmentTokens(settings)
    headers = {"Authorization": f"Bearer {tokens.mint('m1', ['manager'])}"}
    async with AsyncTestClient(create_app(dispatch(), settings), timeout=300) as client:
        assert (await client.post("/notes", headers=headers)).status_code == 201
        await asyncio.to_thread(mongod.stop)
        started = time.monotonic()
        response = await client.post("/notes", headers=headers)
        elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 503
        assert int(response.headers["retry-after"]) > 0
        # Within the transaction's limit (1 s here), not with_transaction's own 120 s: loosely bounded.
        assert elapsed < 30, elapsed
        await asyncio.to_thread(mongod.start)
        assert (await client.post("/notes", headers=headers)).status_code == 201


async def test_with_per_service_broker_users_an_event_put_back_by_an_outage_is_not_taken_for_a_forgery(
    settings, mongod, rabbit_vhost
):
    """A put-back copy is published by the consumer itself (its own user_id, the broker checks it), not
    by the event's producer: its consumer still accepts it (x-put-back-to one of its own queues)."""
    vhost = unquote(rabbit_vhost.rsplit("/", 1)[1])
    prefix = unique("outage") + "-"  # broker users are not per vhost: names of this test's own
    urls = {}
    for service in ("dispatch", "intake"):
        user, password = prefix + service, secrets.token_urlsafe(16)
        add_user(user, password)
        set_permissions(vhost, user, *access.rabbitmq_permissions(service))
        set_topic_permissions(vhost, user, EXCHANGE, *access.rabbitmq_topic_permissions(service))
        urls[service] = f"amqp://{user}:{password}@{RABBITMQ_HOST}/{quote(vhost, safe='')}"
    settings = settings.model_copy(
        update={
            "rabbitmq_url": SecretStr(urls["dispatch"]),
            "rabbitmq_publisher_users": prefix + "{service}",
            "consumer_outage_hold_seconds": 1.0,
            # Room for the restarted mongod's first, slow transactions on a busy machine: within 1 s one
            # run saw each event's attempts end in ExecutionTimeout and dead-lettered (see the README's
            # reliability notes); what this test is about is whose put-back copy is accepted.
            "mongodb_transaction_timeout_seconds": 5.0,
        }
    )
    delivery_log = Records()
    logging.getLogger("compressor_kit.delivery").addHandler(delivery_log)
    try:
        async with AsyncTestClient(create_app(dispatch(), settings)):
            await asyncio.to_thread(mongod.stop)
            events = [job_requested(n) for n in range(3)]
            await publish(urls["intake"], events, user_id=prefix + "intake")

            async def put_back() -> bool:
                return sum("back at the end of" in m for m in delivery_log.messages) >= len(events)

            await eventually(put_back, timeout=30, interval=0.2)
            await asyncio.to_thread(mongod.start)
            with MongoClient(mongod.url) as mongo:

                async def all_handled() -> bool:
                    return mongo[DATABASE].handled.count_documents({}) == len(events)

                await eventually(all_handled, timeout=60, interval=0.2)
                times = {row["_id"]: row["times"] for row in mongo[DATABASE].handled.find()}
            assert times == {event.id: 1 for event in events}
            assert await ready_messages(rabbit_vhost, DEAD_LETTERS) == 0
    finally:
        logging.getLogger("compressor_kit.delivery").removeHandler(delivery_log)
        for service in ("dispatch", "intake"):
            delete_user(prefix + service)
    assert not any("dead-lettering" in m for m in delivery_log.messages), delivery_log.messages


@pytest.fixture
def mongod_with_failpoints(tmp_path):
    server = Mongod(tmp_path / "mongod")
    server.command += ["--setParameter", "enableTestCommands=1"]  # configureFailPoint
    server.start()
    yield server
    server.stop()


async def test_a_write_whose_commit_outcome_is_unknown_is_asked_again_not_answered_503(
    test_settings, mongod_with_failpoints
):
    """MongoDB going away just as a commit was sent leaves its outcome unknown: answering 503 ("nothing was
    written") could be wrong, and the caller's retry would write twice. The commit is asked again until
    its outcome is known, even past the transaction's time limit."""
    mongod = mongod_with_failpoints
    settings = test_settings.model_copy(
        update={
            "mongodb_url": SecretStr(mongod.url),
            "mongodb_database": DATABASE,
            "mongodb_timeout_ms": 300,
            "mongodb_transaction_timeout_seconds": 1.0,
        }
    )
    headers = {"Authorization": f"Bearer {DevelopmentTokens(settings).mint('m1', ['manager'])}"}
    async with AsyncTestClient(create_app(dispatch(), settings), timeout=300) as client:
        assert (await client.post("/notes", headers=headers)).status_code == 201
        with MongoClient(mongod.url) as mongo:
            # Every commit's connection is closed before an answer: its outcome is unknown to the service.
            failing = {"failCommands": ["commitTransaction"], "closeConnection": True}
            mongo.admin.command("configureFailPoint", "failCommand", mode="alwaysOn", data=failing)
            # Lifted from another thread: the test client holds this loop while the app answers.
            lift = threading.Timer(3, mongo.admin.command, ("configureFailPoint", "failCommand"), {"mode": "off"})
            lift.start()
            started = time.monotonic()
            response = await client.post("/notes", headers=headers)
            lift.join()
            assert response.status_code == 201, response.text
            assert time.monotonic() - started >= 2.5  # past the transaction's limit of 1 s, until lifted
            assert mongo[DATABASE].notes.count_documents({}) == 2
