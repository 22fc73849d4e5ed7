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
import secrets
from pathlib import Path
from urllib.parse import quote, unquote

import aio_pika
import pytest
from aiormq.exceptions import ChannelAccessRefused
from litestar.testing import AsyncTestClient
from pydantic import SecretStr

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

    def make(service: str) -> str:
        user, password = unique(service), secrets.token_urlsafe(16)
        add_user(user, password)  # through the management API: a rabbitmqctl call costs an Erlang VM start
        created.append(user)
        set_permissions(vhost, user, *access.rabbitmq_permissions(service))
        return f"amqp://{user}:{password}@{RABBITMQ_HOST}/{quote(vhost, safe='')}"

    yield make
    for user in created:
        delete_user(user)


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
                    return message is not None and message.routing_key == key

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
