"""A survey token is a bearer secret in the customer's link: a whole survey run on the real servers
(form, answers, refusals, an unexpected failure) leaves it in no exported span and no log line."""

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from compressor_kit.logs import JsonFormatter
from compressor_kit.telemetry import setup_tracing
from feedback_service.surveys import store as surveys

from .test_survey_and_review import reported_job


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    setup_tracing("feedback", SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # the provider is the process's: later tests' spans are not kept


@pytest.fixture
def log_lines():
    """Every log line the service writes, as its JSON formatter writes it."""
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(JsonFormatter("feedback"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: written.getvalue().splitlines()
    root.removeHandler(handler)


def everything_in(span) -> str:
    """A span as an exporter sends it: name, attributes, events and links, as text."""
    parts = [span.name, json.dumps(dict(span.attributes or {}), default=str)]
    for event in span.events:
        parts += [event.name, json.dumps(dict(event.attributes or {}), default=str)]
    if span.status.description:
        parts.append(span.status.description)
    return "\n".join(parts)


async def test_no_span_or_log_line_of_a_survey_run_carries_the_token(
    harness, smtp, story, test_db, spans, log_lines, monkeypatch
):
    sink, _ = smtp
    _job, path, _ = await reported_job(harness, story, test_db, sink)
    token = path.rsplit("/", 1)[1]

    assert (await harness.client.get(path, params={"lang": "ms"})).status_code == 200
    assert (await harness.client.post(path, data={"csat": "9", "nps": "3"})).status_code == 422
    assert (await harness.client.post(f"{path}/answer", json={"csat": 4, "nps": 11})).status_code == 422
    assert (await harness.client.post(path, data={"csat": "5", "nps": "9"})).status_code == 200
    assert (await harness.client.post(f"{path}/answer", json={"csat": 1, "nps": 0})).status_code == 409
    assert (await harness.client.get(f"{path}/no/such/page")).status_code == 404

    async def broken(runtime, token):
        raise RuntimeError("the survey store failed")

    monkeypatch.setattr(surveys, "survey_with_token", broken)
    failed = await harness.client.get(path)
    assert failed.status_code == 500

    # The run was traced and logged: the checks below look at real spans and lines.
    served = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert {s.name for s in served} >= {"GET /surveys/{token}", "POST /surveys/{token}", "POST /surveys/{token}/answer"}
    [error_line] = [line for line in log_lines() if "unhandled error" in line]
    assert json.loads(error_line)["message"] == "unhandled error on GET /surveys/{token}"

    leaking_spans = [everything_in(s) for s in spans.get_finished_spans() if token in everything_in(s)]
    assert not leaking_spans, leaking_spans[0]
    leaking_lines = [line for line in log_lines() if token in line]
    assert not leaking_lines, leaking_lines[0]
