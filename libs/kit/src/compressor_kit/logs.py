"""Structured JSON logs carrying job_id, event_id and trace_id.

A log search by job id or trace id finds the whole job across services: job_id and event_id
come from context variables set where an event or request is handled; trace_id from the
current OpenTelemetry span.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

from opentelemetry import trace

job_id_var: ContextVar[str | None] = ContextVar("job_id", default=None)
event_id_var: ContextVar[str | None] = ContextVar("event_id", default=None)

_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


@contextlib.contextmanager
def log_context(*, job_id: str | None = None, event_id: str | None = None) -> Iterator[None]:
    """Tag every log line written inside the block with the job and event."""
    tokens = []
    if job_id is not None:
        tokens.append((job_id_var, job_id_var.set(job_id)))
    if event_id is not None:
        tokens.append((event_id_var, event_id_var.set(event_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        if (job_id := job_id_var.get()) is not None:
            entry["job_id"] = job_id
        if (event_id := event_id_var.get()) is not None:
            entry["event_id"] = event_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party chatter at INFO drowns the job's own lines; uvicorn's access lines and httpx's request
    # lines also carry raw paths, and a path may carry a secret (a survey token, a QR label id).
    for noisy in ("aiormq", "aio_pika", "pymongo", "urllib3", "uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
