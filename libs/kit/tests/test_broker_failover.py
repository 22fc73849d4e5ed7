"""The kit's broker connection knows every node (RABBITMQ_URL, then RABBITMQ_URLS): a node that does
not answer is skipped for the next. Losing a node mid-job is proven on a real 3-node cluster in
tests/cluster."""

from __future__ import annotations

from opentelemetry.trace import NoOpTracerProvider
from pydantic import SecretStr

from compressor_kit.messaging import build_broker
from compressor_kit.settings import broker_nodes
from compressor_kit.testing.ports import free_port


def test_the_broker_nodes_are_rabbitmq_url_then_rabbitmq_urls_in_order(test_settings):
    settings = test_settings.model_copy(
        update={"rabbitmq_urls": SecretStr(" amqp://u:p@b:5672/v , amqp://u:p@c:5672/v,")}
    )
    assert broker_nodes(settings) == [
        test_settings.rabbitmq_url.get_secret_value(),
        "amqp://u:p@b:5672/v",
        "amqp://u:p@c:5672/v",
    ]
    assert broker_nodes(test_settings) == [test_settings.rabbitmq_url.get_secret_value()]


async def test_a_node_that_does_not_answer_is_skipped_for_the_next(test_settings):
    live = test_settings.rabbitmq_url.get_secret_value()
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/"  # nothing listens there
    settings = test_settings.model_copy(update={"rabbitmq_url": SecretStr(dead), "rabbitmq_urls": SecretStr(live)})
    broker = build_broker(settings, "intake", NoOpTracerProvider())
    try:
        connection = await broker.connect()
        assert connection.url.port == int(live.split("@")[1].split("/")[0].split(":")[1])
        assert not connection.is_closed
    finally:
        await broker.stop()
