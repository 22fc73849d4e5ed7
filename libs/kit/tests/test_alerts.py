"""An alert is an ERROR line with its stable name and a count of that name in OpenTelemetry's metrics."""

import logging

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from compressor_kit.alerts import OUTBOX_EVENT_STUCK, raise_alert


def counted(reader: InMemoryMetricReader) -> dict[str, int]:
    data = reader.get_metrics_data()
    counts: dict[str, int] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "compressor.alerts":
                    for point in metric.data.data_points:
                        counts[str(point.attributes["alert"])] = int(point.value)
    return counts


def test_an_alert_is_logged_with_its_name_and_counted(caplog):
    # The counter is made when the kit is imported, before any provider: it reports to the provider a
    # deployment installs later (OpenTelemetry's proxy meter), as a service's metrics exporter will.
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    before = counted(reader).get(OUTBOX_EVENT_STUCK, 0)
    logger = logging.getLogger("test.alerts")
    with caplog.at_level(logging.WARNING, logger="test.alerts"):
        raise_alert(logger, OUTBOX_EVENT_STUCK, "event %s stuck", "E-1", outbox_event_id="E-1")
        raise_alert(logger, OUTBOX_EVENT_STUCK, "event %s stuck", "E-2", outbox_event_id="E-2")
    [first, second] = caplog.records
    assert first.levelno == logging.ERROR and first.getMessage() == "event E-1 stuck"
    assert (first.alert, first.outbox_event_id, second.outbox_event_id) == (OUTBOX_EVENT_STUCK, "E-1", "E-2")
    assert counted(reader)[OUTBOX_EVENT_STUCK] == before + 2
