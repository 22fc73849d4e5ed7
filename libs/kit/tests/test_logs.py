"""Every log line is one JSON object carrying the job, the event and the trace."""

import json
import logging

from compressor_kit.logs import JsonFormatter, log_context
from compressor_kit.telemetry import setup_tracing


def test_a_log_line_carries_job_event_and_trace_ids():
    tracer = setup_tracing("test").get_tracer("test")
    record = logging.makeLogRecord({"name": "dispatch", "levelname": "INFO", "msg": "assigned %s", "args": ("eng-7",)})
    with tracer.start_as_current_span("handle") as span, log_context(job_id="JOB-9", event_id="evt-1"):
        line = json.loads(JsonFormatter("dispatch").format(record))
    assert line["message"] == "assigned eng-7"
    assert line["service"] == "dispatch"
    assert line["job_id"] == "JOB-9"
    assert line["event_id"] == "evt-1"
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    outside = json.loads(JsonFormatter("dispatch").format(record))
    assert "job_id" not in outside and "trace_id" not in outside
