"""The per-service RabbitMQ permissions of docker-compose.yml, proven on the real broker.

For each service a user is created in a fresh vhost with exactly the permission regexes that
infra/access.py generates for compose (infra/rabbitmq/users.sh). The service app, connected as that
user, starts and declares its whole topology, consumes from its queue (a malformed message lands in its
dead-letter queue, which it publishes to itself), publishes its events to the events exchange and
replays its dead letter to the queue that failed it (through the default exchange). The same user is
refused another service's queues and dead-letter exchange.
(MinIO policies cannot be proven here: moto does not enforce IAM policies; tests/test_compose.py checks
the policy documents.)
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import secrets
from pathlib import Path
from urllib.parse import quote, unquote

import aio_pika
import pytest
from aiormq.exceptions import ChannelAccessRefused
from litestar.testing import AsyncTestClient
from pydantic import SecretStr

from compressor_contracts import CONTENT_TYPE
from compressor_contracts.examples import example_event
from compressor_contracts.topology import EXCHANGE, SERVICES, service_topology
from compressor_kit.deadletters import list_dead_letters, replay
from compressor_kit.http import create_app
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

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("infra_access", ROOT / "infra" / "access.py")
access = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(access)

pytestmark = pytest.mark.slow


@pytest.fixture
def service_user(rabbit_vhost):
    """A factory: a user in this test's vhost with one service's generated permissions; its AMQP URL."""
    vhost = unquote(rabbit_vhost.rsplit("/", 1)[1])
    created = []

    def make(service: str, *, prefix: str | None = None) -> str:
        """`prefix` + service as the user's name when given (RABBITMQ_PUBLISHER_USERS `<prefix>{service}`)."""
        user, password = (f"{prefix}{service}" if prefix else unique(service)), secrets.token_urlsafe(16)
        add_user(user, password)  # through the management API: a rabbitmqctl call costs an Erlang VM start
        created.append(user)
        set_permissions(vhost, user, *access.rabbitmq_permissions(service))
        set_topic_permissions(vhost, user, EXCHANGE, *access.rabbitmq_topic_permissions(service))
        return f"amqp://{user}:{password}@{RABBITMQ_HOST}/{quote(vhost, safe='')}"

    yield make
    for user in created:
        delete_user(user)


def url_user(url: str) -> str:
    return unquote(url.split("//", 1)[1].split(":", 1)[0])


def get_from(queue: str):
    """basic.get on a queue (needs read permission on it)."""

    async def action(channel) -> None:
        queue_ = await channel.get_queue(queue, ensure=False)
        await queue_.get(fail=False)

    return action


def declare(queue: str):
    """queue.declare (needs configure permission on it)."""
    return lambda channel: channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})


async def message_ids(url: str, queue: str) -> set[str | None]:
    """The message ids waiting in `queue` (taken off it)."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        queue_ = await channel.get_queue(queue, ensure=False)
        ids = set()
        while (message := await queue_.get(no_ack=True, fail=False)) is not None:
            ids.add(message.message_id)
        return ids


def other_service(service: str) -> str:
    return SERVICES[(SERVICES.index(service) + 1) % len(SERVICES)]


async def refused(url: str, action) -> bool:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        try:
            await action(channel)
        except ChannelAccessRefused:
            return True
    return False


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_works_with_its_own_user_and_is_refused_the_others_queues(
    service, test_settings, rabbit_vhost, service_user
):
    url = service_user(service)
    settings = test_settings.model_copy(update={"rabbitmq_url": SecretStr(url)})
    topology = service_topology(service)
    definition = importlib.import_module(f"{service}_service.app").SERVICE
    app = create_app(definition, settings)
    async with AsyncTestClient(app) as client:
        # Starts and declares its topology with its own user.
        response = await client.get("/health/ready")
        assert response.status_code == 200, response.text

        admin = await aio_pika.connect(rabbit_vhost)
        async with admin:
            channel = await admin.channel()
            events = await channel.get_exchange(EXCHANGE)
            probe = await channel.declare_queue(exclusive=True)
            await probe.bind(events, "#")

            # Consumes its queue and dead-letters what it cannot read (a publish to its own DLX).
            routing_key = topology.queues[0].bindings[0].replace("#", "probe").replace("*", "probe")
            await events.publish(aio_pika.Message(b"not json", message_id="probe-1"), routing_key=routing_key)
            await eventually(lambda: ready_messages(rabbit_vhost, topology.dead_letter_queue), timeout=30)

            # Publishes its events to the events exchange, as its own user (with its own publishers, on
            # the app's event loop). The console publishes no event: it only reads them.
            publishers = app.state.runtime.publishers
            assert bool(publishers) == (service != "console"), service
            for key, publisher in list(publishers.items())[:1]:

                async def publish(publisher=publisher) -> None:
                    await publisher.publish(b"{}", message_id="probe-2")

                await asyncio.to_thread(client.blocking_portal.call, publish)

                async def published(key=key):
                    message = await probe.get(fail=False, no_ack=True)
                    while message is not None and message.routing_key == routing_key:
                        message = await probe.get(fail=False, no_ack=True)
                    # ...naming its own broker user, which consumers check against the event's producer
                    return message is not None and (message.routing_key, message.user_id) == (key, url_user(url))

                await eventually(published, timeout=30)

    # Replays its dead letter as its own user (POST /dead-letters/replay): straight back to the queue that
    # failed it, through the default exchange (write on amq.default).
    # (A service bound to its own events may have dead-lettered probe-2 as well: only probe-1 is replayed.)
    outcome = await replay(url, service, ["probe-1"])
    assert [letter.failed_queue for letter in outcome.replayed] == [topology.queues[0].name], outcome
    assert "probe-1" not in {letter.event_id for letter in await list_dead_letters(rabbit_vhost, [service])}
    assert "probe-1" in await message_ids(rabbit_vhost, topology.queues[0].name)

    other = service_topology(other_service(service))
    other_queue = other.queues[0]
    # Not another service's queue: not to consume, not to declare, not its dead letters.
    assert await refused(url, get_from(other_queue.name))
    assert await refused(url, get_from(other.dead_letter_queue))
    assert await refused(url, declare(other_queue.name))
    assert await refused(url, declare(f"{service}.not-in-the-topology"))

    async def publish_to_other_dead_letters(channel):
        exchange = await channel.get_exchange(other.dead_letter_exchange, ensure=False)
        await exchange.publish(aio_pika.Message(b"x"), routing_key="")

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        with pytest.raises(ChannelAccessRefused):
            await publish_to_other_dead_letters(channel)
    # ...while the own queue stays readable.
    assert not await refused(url, get_from(topology.dead_letter_queue))


async def publish_to(
    url: str, body: bytes, routing_key: str, *, exchange: str = EXCHANGE, user_id=None, headers=None
) -> None:
    """One persistent message, as the URL's user, confirmed (an ACCESS_REFUSED raises)."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.get_exchange(exchange, ensure=False) if exchange else channel.default_exchange
        message = aio_pika.Message(body, content_type=CONTENT_TYPE, user_id=user_id, headers=headers, delivery_mode=2)
        await target.publish(message, routing_key=routing_key)


async def test_a_forged_inspection_passed_is_refused_by_the_broker_or_dead_lettered_with_the_reason(
    test_settings, test_db, rabbit_vhost, service_user
):
    """Only quality decides that an inspection passed. Another service's account cannot publish
    job.inspection_passed on the events exchange (topic permission); what reaches a consumer anyway
    (straight to its queue through the default exchange, or from the guest administrator) is dead-lettered
    with the reason, because its publisher (AMQP user_id, checked by the broker) or source is not quality."""
    prefix = unique("t") + "-"
    quality, maintenance, console = (service_user(s, prefix=prefix) for s in ("quality", "maintenance", "console"))
    settings = test_settings.model_copy(
        update={"rabbitmq_url": SecretStr(console), "rabbitmq_publisher_users": prefix + "{service}"}
    )
    key = "job.inspection_passed.v1"

    def event(source: str = "quality") -> tuple[str, bytes]:
        passed = example_event(key)
        body = json.loads(passed.to_bytes())
        body["source"] = f"/services/{source}"
        return passed.id, json.dumps(body).encode()

    app = create_app(importlib.import_module("console_service.app").SERVICE, settings)
    async with AsyncTestClient(app) as client:
        assert (await client.get("/health/ready")).status_code == 200
        # (a) The broker refuses another service's account the routing key, whatever the body says.
        with pytest.raises(ChannelAccessRefused, match=r"access to topic 'job\.inspection_passed\.v1'"):
            await publish_to(maintenance, event()[1], key, user_id=url_user(maintenance))
        # Quality's own account publishes it, and the console takes it.
        genuine, body = event()
        await publish_to(quality, body, key, user_id=url_user(quality))
        # (b) Forgeries that reach the console's queue anyway.
        by_default_exchange, body = event()  # maintenance may write to the default exchange (replays)
        await publish_to(maintenance, body, "console.job-board", exchange="", user_id=url_user(maintenance))
        by_guest, body = event()  # the administrator's account: its user_id is guest, not quality's
        await publish_to(rabbit_vhost, body, key, user_id="guest")
        wrong_source, body = event(source="maintenance")
        await publish_to(rabbit_vhost, body, key)

        async def handled():
            return test_db.inbox.find_one({"_id": f"console.job-board|/services/quality|{genuine}"})

        await eventually(handled, timeout=30)

        async def three_dead_letters():
            return await ready_messages(rabbit_vhost, "console.dead-letters") >= 3

        await eventually(three_dead_letters, timeout=30)

        letters = {letter.event_id: letter for letter in await list_dead_letters(rabbit_vhost, ["console"])}
        assert set(letters) == {by_default_exchange, by_guest, wrong_source}
        assert {letter.error_type for letter in letters.values()} == {"ForgedEvent"}
        assert {letter.failed_queue for letter in letters.values()} == {"console.job-board"}
        assert f"published by broker user '{url_user(maintenance)}', not by quality's ('{prefix}quality')" in (
            letters[by_default_exchange].error
        )
        assert "user_id: published by broker user 'guest', not by quality's" in letters[by_guest].error
        assert "source: must be '/services/quality'" in letters[wrong_source].error
        assert [doc["_id"].rsplit("|", 1)[1] for doc in test_db.inbox.find()] == [genuine]

        # Replaying them as the console's own user would launder them: a forged event is never replayed.
        outcome = await replay(console, "console", None)
        assert outcome.replayed == [] and len(outcome.skipped) == 3
        assert {skip.reason for skip in outcome.skipped} == {
            "a forged event (not from its type's producer) is never replayed"
        }
        # A genuine event's dead letter (a handler failed) is replayed by the console as its own user,
        # and its consumer takes it.
        failed, body = event()
        headers = {"x-failed-queue": "console.job-board", "x-error-type": "RuntimeError", "x-error": "failed"}
        await publish_to(rabbit_vhost, body, "console.dead-letters", exchange="", headers=headers)
        outcome = await replay(console, "console", [failed])
        assert outcome.skipped == [] and [letter.event_id for letter in outcome.replayed] == [failed]

        async def replayed_handled():
            return test_db.inbox.find_one({"_id": f"console.job-board|/services/quality|{failed}"})

        await eventually(replayed_handled, timeout=30)
