"""A publishing channel that met a quorum queue while the queue's leader node was down.

RabbitMQ 3.10 keeps, per channel and quorum queue, the leader it found at the channel's first publish
to that queue; when that leader's node is down, it nacks that publish and every later one on that
channel, even once the queue has a new leader. The relay's publish function reopens its channel on a
nack (and counts the nack as an outage, not the event's fault), so publishing resumes once the queue
has a leader. The node-loss test met this by chance (one service's first publish after the failover
fell in the election); here the queue is kept without a leader on purpose: its leader's node and a
second member's are stopped, then the second comes back.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid

import aio_pika
import pytest
from opentelemetry.trace import NoOpTracerProvider
from pydantic import SecretStr

from compressor_contracts import EXCHANGE
from compressor_kit.messaging import build_broker, outbox_publisher, register_publishers
from compressor_kit.outbox import PendingEvent
from compressor_kit.retry import QueueUnavailable, is_outage
from compressor_kit.settings import Settings
from compressor_kit.testing import eventually

from .servers import RabbitCluster

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(300)]

ROUTING_KEY = "job.work_completed.v1"  # a maintenance event


@pytest.fixture
def rabbit_cluster(tmp_path):
    cluster = RabbitCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        for node in cluster.nodes:
            shutil.copytree(node.dir / "log", tmp_path / "rabbitmq" / node.node, dirs_exist_ok=True)
        cluster.remove()


def event() -> PendingEvent:
    return PendingEvent(
        id=str(uuid.uuid4()),
        type=f"com.compressorservice.{ROUTING_KEY}",
        correlation_id=str(uuid.uuid4()),
        routing_key=ROUTING_KEY,
        body="{}",
        trace={},
    )


async def test_publishing_resumes_once_a_queue_whose_leader_node_is_down_has_a_new_leader(rabbit_cluster):
    leader, publishing_node, third = rabbit_cluster.nodes
    # The queue is declared on `leader`, which leads it; every node holds a member.
    connection = await aio_pika.connect(leader.url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue("probe", durable=True, arguments={"x-queue-type": "quorum"})
    await queue.bind(exchange, ROUTING_KEY)
    await connection.close()
    assert rabbit_cluster.leaders(via=publishing_node)["probe"] == leader.node

    settings = Settings(
        environment="test", rabbitmq_url=SecretStr(publishing_node.url), rabbitmq_urls=SecretStr(third.url)
    )
    broker = build_broker(settings, "maintenance", NoOpTracerProvider())
    publish = outbox_publisher(register_publishers(broker, "maintenance"), broker=broker)
    await broker.start()
    try:
        # Without `third` the queue has no majority once `leader` is gone: no new leader, nacks.
        await asyncio.to_thread(third.stop)
        await asyncio.to_thread(leader.stop)
        with pytest.raises(QueueUnavailable) as refused:
            await publish(event())
        assert is_outage(refused.value)  # the event spends no attempt on it

        # `third` is back: the queue elects a leader among it and `publishing_node`.
        await asyncio.to_thread(third.start)

        async def published() -> bool:
            try:
                await publish(event())
            except QueueUnavailable:
                return False
            return True

        await eventually(published, timeout=60, interval=0.5)
    finally:
        await broker.stop()
