"""Pytest fixtures that isolate every test on the real servers: its own RabbitMQ vhost, its own
MongoDB database and its own bucket prefix, all removed afterwards.

Enabled with `pytest_plugins = ["compressor_kit.testing"]` in the workspace conftest.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractIncomingMessage
from litestar.testing import AsyncTestClient
from minio import Minio
from pydantic import SecretStr
from pymongo import MongoClient
from pymongo.database import Database

from compressor_contracts import service_topology
from compressor_kit.auth import DevelopmentTokens
from compressor_kit.http import create_app
from compressor_kit.runtime import ServiceDefinition
from compressor_kit.settings import Settings
from compressor_kit.testing.browser import BROWSER_FIXTURES, CALL_FAILED, chromium, desktop_page, phone_page
from compressor_kit.testing.provider import identity_provider

# Fixtures of this plugin defined with their other helpers (the provider's; the browser's).
__all__ = ["chromium", "desktop_page", "identity_provider", "phone_page"]

T = TypeVar("T")

RABBITMQ_NODE = os.environ.get("RABBITMQ_NODENAME", "rabbit@localhost")
RABBITMQ_HOST = os.environ.get("TEST_RABBITMQ_HOST", "127.0.0.1:5672")
# The management plugin's HTTP API (infra/rabbitmq.sh enables it): a vhost costs a few milliseconds
# there, against an Erlang VM start (~0.65 s of CPU) for every `rabbitmqctl` call.
RABBITMQ_API = os.environ.get("TEST_RABBITMQ_API", "http://127.0.0.1:15672/api")
RABBITMQ_API_USER = ("guest", "guest")

# Fixtures whose tests talk to the real servers: `make test-fast` deselects them (see
# pytest_collection_modifyitems below).
SERVER_FIXTURES = (
    frozenset({"rabbit_vhost", "test_settings", "test_db", "tokens", "identity_provider"}) | BROWSER_FIXTURES
)


def rabbitmqctl(*args: str) -> str:
    result = subprocess.run(
        ["rabbitmqctl", "-q", "-n", RABBITMQ_NODE, *args], capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr or result.stdout}")
    return result.stdout


_management: httpx.Client | None = None


def rabbitmq_api(method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One call to the broker's management HTTP API (`path` below /api, its parts already quoted);
    raises on an error status."""
    global _management
    if _management is None:
        _management = httpx.Client(base_url=RABBITMQ_API, auth=RABBITMQ_API_USER, timeout=30)
    try:
        response = _management.request(method, path, **kwargs)
    except httpx.TransportError as error:
        raise RuntimeError(
            f"RabbitMQ management API at {RABBITMQ_API} unreachable ({error!r}): "
            "`bash infra/rabbitmq.sh start` (or `make infra-up`) enables the rabbitmq_management plugin"
        ) from error
    if response.is_error:
        raise RuntimeError(f"{method} {RABBITMQ_API}{path}: {response.status_code} {response.text}")
    return response


def _q(name: str) -> str:
    return quote(name, safe="")


def add_vhost(vhost: str, user: str = "guest") -> None:
    """Create `vhost` and give `user` full permissions on it."""
    rabbitmq_api("PUT", f"/vhosts/{_q(vhost)}")
    set_permissions(vhost, user, ".*", ".*", ".*")


def delete_vhost(vhost: str) -> None:
    rabbitmq_api("DELETE", f"/vhosts/{_q(vhost)}")


def add_user(user: str, password: str) -> None:
    """A user without tags (no management access), as `rabbitmqctl add_user` creates."""
    rabbitmq_api("PUT", f"/users/{_q(user)}", json={"password": password, "tags": ""})


def delete_user(user: str) -> None:
    rabbitmq_api("DELETE", f"/users/{_q(user)}")


def set_permissions(vhost: str, user: str, configure: str, write: str, read: str) -> None:
    """As `rabbitmqctl set_permissions -p <vhost> <user> <configure> <write> <read>`."""
    body = {"configure": configure, "write": write, "read": read}
    rabbitmq_api("PUT", f"/permissions/{_q(vhost)}/{_q(user)}", json=body)


def set_topic_permissions(vhost: str, user: str, exchange: str, write: str, read: str) -> None:
    """As `rabbitmqctl set_topic_permissions -p <vhost> <user> <exchange> <write> <read>`: the routing
    keys `user` may publish to (write) and bind with (read) on the topic exchange."""
    body = {"exchange": exchange, "write": write, "read": read}
    rabbitmq_api("PUT", f"/topic-permissions/{_q(vhost)}/{_q(user)}", json=body)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def rabbit_vhost() -> Iterator[str]:
    """A fresh vhost; yields its AMQP URL."""
    vhost = unique("test")
    add_vhost(vhost)
    try:
        yield f"amqp://guest:guest@{RABBITMQ_HOST}/{quote(vhost, safe='')}"
    finally:
        delete_vhost(vhost)


def queue_types(amqp_url: str) -> dict[str, str]:
    """Every queue of the vhost and its type (quorum, classic). The queue list itself is current in
    the management API (only its message counts lag: see `ready_messages`)."""
    vhost = unquote(amqp_url.rsplit("/", 1)[1])
    queues = rabbitmq_api("GET", f"/queues/{_q(vhost)}", params={"columns": "name,type"}).json()
    return {q["name"]: q["type"] for q in queues}


async def ready_messages(amqp_url: str, queue: str) -> int:
    """Messages ready in `queue` now (from a passive declare: exact, unlike the periodic stats)."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count
        assert count is not None
        return count


async def assert_service_starts(definition: ServiceDefinition[Any], settings: Settings) -> None:
    """The service starts, declares its topology and answers readiness with 200."""
    app = create_app(definition, settings)
    async with AsyncTestClient(app) as client:
        response = await client.get("/health/ready")
        assert response.status_code == 200, response.text
        assert response.json()["service"] == definition.name
    topology = service_topology(definition.name)
    declared = queue_types(settings.rabbitmq_url.get_secret_value())
    expected = [q.name for q in topology.queues] + [topology.dead_letter_queue]
    for name in expected:
        assert declared.get(name) == "quorum", f"{name} not declared as a quorum queue: {declared}"


@pytest.fixture
def test_settings(rabbit_vhost: str) -> Iterator[Settings]:
    """Settings pointing at this test's own vhost, database and buckets; cleaned up afterwards."""
    settings = Settings(
        environment="test",
        rabbitmq_url=SecretStr(rabbit_vhost),
        mongodb_database=unique("test").replace("-", "_"),
        s3_bucket_prefix=unique("test") + "-",
        outbox_poll_interval_seconds=0.1,
        outbox_lease_seconds=2,
        consumer_retry_backoff_seconds=0.01,
        consumer_max_attempts=3,
    )
    yield settings
    client: MongoClient[dict[str, Any]]
    with MongoClient(settings.mongodb_url.get_secret_value(), serverSelectionTimeoutMS=5000) as client:
        client.drop_database(settings.mongodb_database)
    store = Minio(
        settings.s3_endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
    )
    for bucket in store.list_buckets():
        if bucket.name.startswith(settings.s3_bucket_prefix):
            for obj in store.list_objects(bucket.name, recursive=True, include_version=True):
                store.remove_object(bucket.name, obj.object_name, version_id=obj.version_id)
            store.remove_bucket(bucket.name)


@pytest.fixture
def tokens(test_settings: Settings) -> DevelopmentTokens:
    """HS256 development tokens for any subject and roles (accepted in the test environment only);
    `identity_provider` gives tokens the real provider issued."""
    return DevelopmentTokens(test_settings)


async def drain_queue(
    amqp_url: str, queue: str, *, expect: int, timeout: float = 10.0
) -> list[AbstractIncomingMessage]:
    """Take messages off `queue` (acking them) until `expect` arrived or `timeout` passed."""
    messages: list[AbstractIncomingMessage] = []
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        q = await channel.get_queue(queue, ensure=True)
        deadline = asyncio.get_running_loop().time() + timeout
        while len(messages) < expect and asyncio.get_running_loop().time() < deadline:
            message = await q.get(no_ack=True, fail=False)
            if message is None:
                await asyncio.sleep(0.05)
            else:
                messages.append(message)
    finally:
        await connection.close()
    return messages


async def eventually(check: Callable[[], Awaitable[T]], *, timeout: float = 10.0, interval: float = 0.05) -> T:
    """Await `check()` until it returns something truthy; fail with its last value after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            assert result, f"condition not met within {timeout}s: {result!r}"
            return result
        await asyncio.sleep(interval)


@pytest.fixture
def test_db(test_settings: Settings) -> Iterator[Database[dict[str, Any]]]:
    """A synchronous handle on this test's database, for assertions from the test's own thread
    (the app under test runs its AsyncMongoClient on the test client's event loop)."""
    client: MongoClient[dict[str, Any]]
    with MongoClient(test_settings.mongodb_url.get_secret_value(), tz_aware=True) as client:
        yield client[test_settings.mongodb_database]


@pytest.fixture
def database_prefix(test_settings: Settings) -> Iterator[str]:
    """A database name prefix for a deployment of the services started by the test itself (each
    service's database is `<prefix><service>`); those databases are dropped afterwards."""
    prefix = unique("deploy").replace("-", "_") + "_"
    yield prefix
    client: MongoClient[dict[str, Any]]
    with MongoClient(test_settings.mongodb_url.get_secret_value()) as client:
        for name in client.list_database_names():
            if name.startswith(prefix):
                client.drop_database(name)


# --- Collection: which tests need the servers, and which start first -------------------------------

# Tests that start whole deployments or servers of their own: longest first, so that under
# pytest-xdist they do not form the tail of the run while the other workers sit idle.
_HEAVIEST = ("tests/e2e/", "tests/faults/")


def pytest_configure(config: pytest.Config) -> None:
    # A test run is the test environment, said once here: settings read from the environment and the
    # processes tests start inherit it (an unset ENVIRONMENT means production, which refuses the
    # development defaults the tests use). A test of that refusal removes it from its process's env.
    os.environ["ENVIRONMENT"] = "test"
    config.addinivalue_line(
        "markers",
        "needs_servers: talks to RabbitMQ, MongoDB, the object store, the identity provider or Chromium (set "
        "automatically on tests using the test_settings, rabbit_vhost, test_db, tokens, identity_provider or "
        "browser fixtures; `make test-fast` skips these)",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Note on the item when its test failed, for fixtures that keep evidence (the browser pages
    screenshot what they showed)."""
    report = yield
    if report.when == "call" and report.failed:
        item.stash[CALL_FAILED] = True
    return report


def _start_order(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    if path.startswith(_HEAVIEST):
        return 0
    if item.get_closest_marker("slow"):
        return 1
    if item.get_closest_marker("needs_servers"):
        return 2
    return 3


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if SERVER_FIXTURES.intersection(fixtures):
            item.add_marker(pytest.mark.needs_servers)
        if BROWSER_FIXTURES.intersection(fixtures):
            # The worker's one Chromium lives on the session event loop (see testing/browser.py).
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)
    # A stable sort: the same order in every xdist worker, modules kept together within a group.
    items.sort(key=_start_order)
