"""The ingest benchmark's own arithmetic (bench/ingest.py): no server needed."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from bench.ingest import (
    ACCEPTED,
    Fleet,
    counter_value,
    device_documents,
    per_thousand,
    rate_over,
    storage_per_machine_per_day,
    stored_document,
)
from telemetry_service.devices.domain import Device


def test_storage_per_machine_per_day_scales_the_bytes_per_reading_to_one_reading_a_minute() -> None:
    # 2,000 readings in 1,000,000 bytes: 500 bytes each, 1,440 a day.
    assert storage_per_machine_per_day(1_000_000, 2_000) == 500 * 1440
    assert storage_per_machine_per_day(1_000_000, 2_000, readings_per_day=24) == 500 * 24
    assert math.isnan(storage_per_machine_per_day(4096, 0))


def test_rate_is_taken_over_the_window_after_the_warm_up_only() -> None:
    samples = [(0.0, 0), (1.0, 5), (2.0, 100), (3.0, 300), (4.5, 600)]
    assert rate_over(samples, since=2.0) == (600 - 100) / (4.5 - 2.0)
    assert math.isnan(rate_over(samples, since=4.0))  # one sample: no rate


def test_cpu_is_per_thousand_readings_by_process() -> None:
    assert per_thousand({"telemetry": 3.0, "mongod": 1.5}, 1500) == {"mongod": 1.0, "telemetry": 2.0}


def test_each_device_reports_a_minute_apart_and_is_stored_as_telemetry_stores_it() -> None:
    fleet = Fleet(gateways=2, devices_per_gateway=3, started=datetime(2026, 11, 1, tzinfo=UTC))
    assert fleet.device_ids("GW-0001") == ["DEV-0001-0000", "DEV-0001-0001", "DEV-0001-0002"]
    first, second = fleet.reading("DEV-0001-0000", 0), fleet.reading("DEV-0001-0000", 1)
    assert (datetime.fromisoformat(second["read_at"]) - datetime.fromisoformat(first["read_at"])).seconds == 60
    assert second["running_hours"] > first["running_hours"]
    stored = stored_document(second, "EQ-0001-0000")
    assert stored["read_at"] == datetime(2026, 11, 1, 0, 1, tzinfo=UTC)
    assert stored["equipment_id"] == "EQ-0001-0000"


def test_the_devices_registered_in_bulk_are_devices_telemetry_reads_back() -> None:
    fleet = Fleet(gateways=2, devices_per_gateway=2, started=datetime(2026, 11, 1, tzinfo=UTC))
    documents = device_documents(fleet, registered_at=datetime(2026, 11, 3, tzinfo=UTC))
    devices = [
        Device.model_validate({**{k: v for k, v in d.items() if k != "_id"}, "device_id": d["_id"]}) for d in documents
    ]
    assert [(d.device_id, d.gateway_id) for d in devices][:3] == [
        ("DEV-0000-0000", "GW-0000"),
        ("DEV-0000-0001", "GW-0000"),
        ("DEV-0001-0000", "GW-0001"),
    ]


def test_the_readings_stored_are_read_from_the_services_counter_by_its_labels() -> None:
    metrics = "\n".join(
        [
            "# HELP compressor_telemetry_readings_accepted_total readings taken in",
            "# TYPE compressor_telemetry_readings_accepted_total counter",
            'compressor_telemetry_readings_accepted_total{source="mqtt"} 1234.0',
            'compressor_telemetry_readings_accepted_total{source="modbus"} 7.0',
            'compressor_telemetry_readings_accepted_created{source="mqtt"} 1.7648e+09',
            'compressor_telemetry_readings_rejected_total{reason="duplicate",source="mqtt"} 3.0',
            "compressor_plain_total 5.0",
        ]
    )
    assert counter_value(metrics, ACCEPTED, source="mqtt") == 1234
    assert counter_value(metrics, ACCEPTED) == 1241  # every label set
    assert counter_value(metrics, "compressor_telemetry_readings_rejected_total", source="mqtt") == 3
    assert counter_value(metrics, "compressor_plain_total") == 5
    assert counter_value("", ACCEPTED, source="mqtt") == 0  # before the first reading: no sample yet
