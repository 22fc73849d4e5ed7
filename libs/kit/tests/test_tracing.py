"""One trace follows a job from the HTTP request that caused an event, through RabbitMQ, into the consumer."""

import pytest
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.testing import AsyncTestClient
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from compressor_contracts import CloudEvent, JobRequested, StaffRole
from compressor_contracts.examples import example
from compressor_kit.auth import public, requires
from compressor_kit.consumer import Consumer
from compressor_kit.http import create_app
from compressor_kit.messaging import EVENTS_EXCHANGE
from compressor_kit.runtime import Runtime, ServiceDefinition
from compressor_kit.telemetry import setup_tracing
from compressor_kit.testing import eventually


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    setup_tracing("test", SimpleSpanProcessor(exporter))
    return exporter


@post("/calls", **requires(StaffRole.RECEPTION), status_code=202)
async def take_call(runtime: NamedDependency[Runtime]) -> dict[str, str]:
    event = await runtime.outbox.transact(lambda uow: uow.publish(example("job.requested.v1")))
    return {"event_id": event.id}


async def test_http_request_publish_and_consume_share_one_trace(test_settings, tokens, spans):
    consumed_in: list[int] = []

    async def on_requested(event: CloudEvent, uow) -> None:
        consumed_in.append(trace.get_current_span().get_span_context().trace_id)

    # One process plays both sides: it takes the call over HTTP and consumes the event it caused.
    definition = ServiceDefinition(
        name="dispatch",
        default_port=0,
        description="test",
        route_handlers=[take_call],
        consumers=[lambda runtime: [Consumer("dispatch.job-requests", {JobRequested: on_requested})]],
    )
    app = create_app(definition, test_settings)
    runtime: Runtime = app.state.runtime
    # dispatch does not produce job.requested; let it publish as intake for this test (the consumer accepts
    # job.requested from its producer only, and the test broker's guest user turns the user_id check off).
    runtime.publishers["job.requested.v1"] = runtime.broker.publisher(
        exchange=EVENTS_EXCHANGE, routing_key="job.requested.v1", persist=True
    )
    runtime.outbox.service = "intake"
    async with AsyncTestClient(app) as client:
        response = await client.post("/calls", headers={"Authorization": "Bearer " + tokens.mint("r1", ["reception"])})
        assert response.status_code == 202, response.text

        async def consumed():
            return consumed_in

        await eventually(consumed)

    finished = spans.get_finished_spans()
    [request] = [s for s in finished if s.kind == SpanKind.SERVER and s.name == "POST /calls"]
    producers = [
        s
        for s in finished
        if s.kind == SpanKind.PRODUCER
        and s.attributes.get("messaging.rabbitmq.destination.routing_key") == "job.requested.v1"
    ]
    consumers = [
        s
        for s in finished
        if s.kind == SpanKind.CONSUMER
        and s.attributes.get("messaging.rabbitmq.destination.routing_key") == "job.requested.v1"
    ]
    assert producers and consumers
    trace_id = request.context.trace_id
    assert consumed_in == [trace_id]
    assert {s.context.trace_id for s in producers + consumers} == {trace_id}
    assert consumers[0].parent.span_id in {p.context.span_id for p in producers}
    # the relay's polling is not traced: no span outside the job's trace touches the outbox
    stray = [
        s.name
        for s in finished
        if s.context.trace_id != trace_id and s.attributes.get("db.statement") in {"find", "findAndModify", "update"}
    ]
    assert not stray, stray


@post("/jobs/{job_id:str}/notes", **requires(StaffRole.RECEPTION), status_code=202)
async def note_on_job(job_id: FromPath[str], runtime: NamedDependency[Runtime]) -> dict[str, str]:
    data = example("job.cancelled.v1").model_copy(update={"job_id": job_id})
    event = await runtime.outbox.transact(lambda uow: uow.publish(data))
    return {"event_id": event.id}


@post("/sweeps", **requires(StaffRole.RECEPTION), status_code=202)
async def sweep(data: JSONBody[dict[str, str]], runtime: NamedDependency[Runtime]) -> dict[str, str]:
    """Stands for a background job: it acts on a job from outside the job's trace."""
    payload = example("job.cancelled.v1").model_copy(update={"job_id": data["job_id"]})
    event = await runtime.outbox.transact(lambda uow: uow.publish(payload))
    return {"event_id": event.id}


async def test_later_requests_and_background_work_on_a_job_continue_the_job_trace(test_settings, tokens, test_db):
    definition = ServiceDefinition(
        name="intake", default_port=0, description="test", route_handlers=[take_call, note_on_job, sweep]
    )
    auth = {"Authorization": "Bearer " + tokens.mint("r1", ["reception"])}
    async with AsyncTestClient(create_app(definition, test_settings)) as client:
        started = await client.post("/calls", headers=auth)
        job_trace = started.headers["X-Trace-Id"]
        job_id = test_db["outbox"].find_one({"_id": started.json()["event_id"]})["subject"]

        # hours later, a person acts on the job with no trace context of their own
        later = await client.post(f"/jobs/{job_id}/notes", headers=auth)
        assert later.status_code == 202, later.text
        assert later.headers["X-Trace-Id"] == job_trace

        elsewhere = await client.post("/sweeps", json={"job_id": job_id}, headers=auth)
        assert elsewhere.headers["X-Trace-Id"] != job_trace

    for response in (later, elsewhere):
        stored = test_db["outbox"].find_one({"_id": response.json()["event_id"]})
        assert stored["trace"]["traceparent"].split("-")[1] == job_trace


@post("/machines/{equipment_id:str}/alarms", **requires(StaffRole.RECEPTION), status_code=202)
async def machine_alarm(equipment_id: FromPath[str], runtime: NamedDependency[Runtime]) -> dict[str, str]:
    """Stands for telemetry publishing an event about a machine (not a job)."""
    payload = example("equipment.alarm_raised.v1").model_copy(update={"equipment_id": equipment_id})
    event = await runtime.outbox.transact(lambda uow: uow.publish(payload))
    return {"event_id": event.id}


async def test_events_about_a_machine_each_keep_their_own_trace(test_settings, tokens, test_db):
    """Only jobs have one trace for their whole life: a machine's alarm months later is a trace of its
    own, and a request naming the machine is not served inside an old alarm's trace."""
    definition = ServiceDefinition(name="telemetry", default_port=0, description="test", route_handlers=[machine_alarm])
    auth = {"Authorization": "Bearer " + tokens.mint("r1", ["reception"])}
    async with AsyncTestClient(create_app(definition, test_settings)) as client:
        first = await client.post("/machines/EQ-7781/alarms", headers=auth)
        second = await client.post("/machines/EQ-7781/alarms", headers=auth)
    assert first.status_code == second.status_code == 202, (first.text, second.text)
    assert first.headers["X-Trace-Id"] != second.headers["X-Trace-Id"]
    for response in (first, second):
        stored = test_db["outbox"].find_one({"_id": response.json()["event_id"]})
        assert stored["trace"]["traceparent"].split("-")[1] == response.headers["X-Trace-Id"]
    assert test_db["job_traces"].count_documents({}) == 0


@get("/keys/{secret:str}", **public(), sync_to_thread=False)
def show_key(secret: FromPath[str]) -> dict[str, int]:
    return {"length": len(secret)}


async def test_requests_are_traced_by_their_route_template_never_their_path(test_settings, spans):
    """A path parameter may be a secret (a survey token): span names and URL attributes carry the route."""
    definition = ServiceDefinition(name="feedback", default_port=0, description="test", route_handlers=[show_key])
    secret = "s3cr3t-t0ken-in-the-path"
    async with AsyncTestClient(create_app(definition, test_settings)) as client:
        assert (await client.get(f"/keys/{secret}", params={"lang": secret})).status_code == 200
        assert (await client.get(f"/keys/{secret}/typo")).status_code == 404

    served = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert [s.name for s in served] == ["GET /keys/{secret}", "GET /{unmatched}"]
    found, unmatched = (dict(s.attributes) for s in served)
    assert found["http.target"] == "/keys/{secret}" and found["http.url"].endswith("/keys/{secret}")
    assert unmatched["http.target"] == "/{unmatched}"
    recorded = [(s.name, dict(s.attributes)) for s in spans.get_finished_spans()]
    assert secret not in repr(recorded)
