"""Alerts: conditions an operator must hear about, each under a stable name.

An alert is logged at ERROR with the field `alert=<name>` (log-based alerting matches on it) and counted
in the OpenTelemetry counter `compressor.alerts`, by name (whatever OpenTelemetry exporter a deployment
installs serves it; without one the count costs nothing) and in the running service's Prometheus counter
`compressor_alerts_total{alert=...}` (metrics.py, served at /metrics).
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import metrics

from compressor_kit.metrics import count_alert

OUTBOX_EVENT_STUCK = "outbox_event_stuck"
REPORT_RECORD_STUCK = "report_record_stuck"
DEAD_LETTER_REFUSED = "dead_letter_refused"
"""The dead-letter exchange did not take a message (its queue missing or full): it stays in its own queue."""
DEAD_LETTER_QUEUE_UNBOUNDED = "dead_letter_queue_unbounded"

_meter = metrics.get_meter("compressor_kit")
ALERTS = _meter.create_counter("compressor.alerts", unit="{alert}", description="alerts raised, by name")


def raise_alert(
    logger: logging.Logger, name: str, message: str, *args: Any, level: int = logging.ERROR, **fields: Any
) -> None:
    """Log `message % args` with `alert=name` and the given fields, and count it under `name`."""
    logger.log(level, message, *args, extra={"alert": name, **fields})
    ALERTS.add(1, {"alert": name})
    count_alert(name)
