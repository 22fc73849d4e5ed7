"""Alarms and silence on the real servers (MongoDB, RabbitMQ), with a manual clock: an uploaded export's
alarms raise one equipment.alarm_raised per episode (a shutdown at once, a flapping one once, a warning
only once it persisted, not one that cleared within the grace), and a device that sends nothing for
the configured days raises one equipment.went_silent per silence."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from compressor_contracts.events.telemetry import AlarmSeverity, EquipmentAlarmRaised, EquipmentWentSilent
from compressor_kit.clock import ManualClock
from compressor_kit.testing.harness import running_service
from telemetry_service.alarms import codes
from telemetry_service.app import SERVICE
from telemetry_service.settings import TelemetrySettings

WAIT = 30.0
T0 = datetime.now(UTC).replace(second=0, microsecond=0)
DEVICE = {
    "device_id": "DEV-1",
    "equipment_id": "EQ-7781",
    "controller_family": "kaeser-sigma",
    "service_levels": [{"level": "A", "hours": 4000, "months": 12}],
    "last_service_on": (T0 - timedelta(days=30)).date().isoformat(),
    "last_service_hours": 20_000,
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def settings(test_settings) -> TelemetrySettings:
    return TelemetrySettings(
        **{
            **test_settings.model_dump(),
            "telemetry_alarm_grace_seconds": 600,
            "telemetry_alarm_flap_seconds": 3600,
            "telemetry_silence_days": 3,
            "telemetry_silence_check_seconds": 0.1,
        }
    )


def reading(at: datetime, alarms: list[str], warnings: list[str]) -> dict[str, Any]:
    hours = 21_000 + (at - T0).total_seconds() / 3600
    return {
        "device_id": "DEV-1",
        "read_at": at.isoformat(),
        "running_hours": round(hours, 2),
        "alarms": alarms,
        "warnings": warnings,
    }


def states(minute: int) -> tuple[list[str], list[str]]:
    """What the controller reports `minute` minutes into the export (one reading a minute, 150 of them)."""
    alarms, warnings = [], []
    if 0 <= minute < 20 and minute % 6 < 3:  # a shutdown that flaps for 20 minutes: one episode
        alarms.append("E-TEMP-HIGH")
    if 30 <= minute < 36:  # a warning that clears within the grace: nothing
        warnings.append("W-SEP-DP")
    if 100 <= minute < 130:  # a warning that persists: raised at minute 110
        warnings.append("W-FILTER")
    return alarms, warnings


async def test_one_alarm_event_per_episode_and_one_silence_notice_per_silence(settings, clock, test_db, tokens):
    manager = {"Authorization": f"Bearer {tokens.mint('u-manager-1', ['manager'], name='Tan Mei Ling')}"}
    bindings = (EquipmentAlarmRaised.routing_key(), EquipmentWentSilent.routing_key())
    start = T0 - timedelta(minutes=149)
    export = [reading(start + timedelta(minutes=m), *states(m)) for m in range(150)]

    async def upload(rows: list[dict[str, Any]]) -> dict[str, Any]:
        body = json.dumps(rows).encode()
        files = {"data": ("export.json", body, "application/json")}
        response = await running.client.post("/readings/uploads", files=files, headers=manager)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async with running_service(SERVICE, settings, clock=clock, bindings=bindings) as running:
        assert (await running.client.post("/devices", json=DEVICE, headers=manager)).status_code == 201
        assert (await upload(export))["accepted"] == 150
        # The export again: every row absorbed as a duplicate (more rows than the device's state
        # remembers: the older ones are found in the time-series collection), nothing raised twice.
        assert (await upload(export))["rejected"] == {"duplicate": 150}
        assert test_db.readings.count_documents({"device_id": "DEV-1"}) == 150

        shutdown, warning = await running.tap.take(2, timeout=WAIT)
        assert (shutdown.data.alarm_code, shutdown.data.severity) == ("E-TEMP-HIGH", AlarmSeverity.SHUTDOWN)
        assert shutdown.data.raised_at == start
        assert shutdown.data.description == codes.describe("E-TEMP-HIGH", "kaeser-sigma")
        assert [r.read_at for r in shutdown.data.recent_readings] == [start]
        assert (warning.data.alarm_code, warning.data.severity) == ("W-FILTER", AlarmSeverity.WARNING)
        assert warning.data.raised_at == start + timedelta(minutes=100)
        # Raised at minute 110, with the readings before it: the last 48, oldest first, ending with its own.
        recent = warning.data.recent_readings
        assert len(recent) == 48 and recent[-1].read_at == start + timedelta(minutes=110)
        assert recent[0].read_at == start + timedelta(minutes=63) and recent[-1].warnings == ["W-FILTER"]
        assert shutdown.subject == warning.subject == "EQ-7781"
        assert shutdown.data.episode_id != warning.data.episode_id
        assert test_db.outbox.count_documents({"type": EquipmentAlarmRaised.event_type()}) == 2

        # Three days without a reading: one notice, however many rounds the watch runs.
        clock.advance(timedelta(days=3, minutes=5))
        [quiet] = await running.tap.take(1, timeout=WAIT)
        assert quiet.type == EquipmentWentSilent.event_type()
        assert (quiet.subject, quiet.data.device_id, quiet.data.silent_days) == ("EQ-7781", "DEV-1", 3)
        assert quiet.data.last_reading_at == T0
        await asyncio.sleep(1.0)  # ten more rounds
        assert test_db.outbox.count_documents({"type": EquipmentWentSilent.event_type()}) == 1

        # A reading ends the silence; the next silence is noticed again.
        back = clock.now() - timedelta(minutes=1)
        assert (await upload([reading(back, [], [])]))["accepted"] == 1
        await asyncio.sleep(0.5)
        assert test_db.outbox.count_documents({"type": EquipmentWentSilent.event_type()}) == 1
        clock.advance(timedelta(days=4))
        [again] = await running.tap.take(1, timeout=WAIT)
        assert (again.data.last_reading_at, again.data.silent_days) == (back, 4)
        assert await running.tap.rest() == []
