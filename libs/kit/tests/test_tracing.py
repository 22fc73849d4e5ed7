"""One trace follows an event from the code that caused it, through RabbitMQ, into the consumer."""

import pytest
from compressor_contracts import CloudEvent
from compressor_contracts.events.intake import JobRequested
from compressor_contracts.examples import example
from compressor_kit.consumer import Consumer
from compressor_kit.service import ServiceDefinition, create_app
from compressor_kit.telemetry import setup_tracing
from compressor_kit.testing import eventually
from litestar.testing import AsyncTestClient
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    setup_tracing("test", SimpleSpanProcessor(exporter))
    return exporter


async def test_producer_and_consumer_spans_share_the_trace_of_the_request(test_settings, spans):
    handled: list[str] = []

    async def on_requested(event: CloudEvent, uow) -> None:
        handled.append(trace.get_current_span().get_span_context().trace_id)

    # dispatch both publishes (from its outbox) and consumes job.requested in this test
    definition = ServiceDefinition(
        name="dispatch", default_port=0, description="test",
        consumers=lambda runtime: [Consumer("dispatch.job-requests", {JobRequested: on_requested})],
    )
    app = create_app(definition, test_settings)
    runtime = app.state.runtime
    runtime.publishers["job.requested.v1"] = _intake_publisher(runtime)
    tracer = trace.get_tracer("test")
    async with AsyncTestClient(app):
        with tracer.start_as_current_span("reception takes a call") as origin:
            await runtime.outbox.transact(lambda uow: uow.publish(example("job.requested.v1"), subject="job-7"))
        origin_trace = origin.get_span_context().trace_id

        async def consumed():
            return handled

        await eventually(consumed)

    assert handled == [origin_trace]
    finished = spans.get_finished_spans()
    producers = [s for s in finished if s.kind == SpanKind.PRODUCER and "job.requested.v1" in s.name]
    consumers = [s for s in finished if s.kind == SpanKind.CONSUMER and s.attributes.get(
        "messaging.rabbitmq.destination.routing_key") == "job.requested.v1"]
    assert producers and consumers
    assert {s.context.trace_id for s in producers + consumers} == {origin_trace}
    assert consumers[0].parent.span_id in {p.context.span_id for p in producers}


def _intake_publisher(runtime):
    """dispatch does not produce job.requested; borrow intake's documented publisher for the test."""
    from compressor_kit.messaging import EVENTS_EXCHANGE

    return runtime.broker.publisher(exchange=EVENTS_EXCHANGE, routing_key="job.requested.v1", persist=True)
