"""Fixtures shared by the kit's outbox and relay tests."""

import pytest

from compressor_contracts import service_topology
from compressor_kit.messaging import build_broker, declare_topology, outbox_publisher, register_publishers
from compressor_kit.mongo import create_client
from compressor_kit.outbox import Outbox
from compressor_kit.telemetry import setup_tracing


@pytest.fixture
async def wiring(test_settings):
    """An intake outbox and relay on this test's vhost and database, plus the reporting queues to watch."""
    client = create_client(test_settings)
    outbox = Outbox(client, client[test_settings.database_name("intake")], "intake")
    broker = build_broker(test_settings, "intake", setup_tracing("intake"))
    publish = outbox_publisher(register_publishers(broker, "intake"))
    await broker.connect()
    await declare_topology(broker, service_topology("intake"))
    await declare_topology(broker, service_topology("reporting"))
    yield outbox, publish
    await broker.stop()
    await client.close()
