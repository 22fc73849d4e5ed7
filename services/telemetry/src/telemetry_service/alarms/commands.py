"""Readings' alarms, judged in the transaction that claims the readings (readings/intake.py): each
device's episodes updated reading after reading, and each episode that raises published once, with the
machine's recent readings."""

from __future__ import annotations

from datetime import timedelta

from compressor_contracts.events.telemetry import EquipmentAlarmRaised, ReadingSummary
from telemetry_service.alarms import codes
from telemetry_service.alarms.domain import AlarmPolicy, Episode, active_codes, judge
from telemetry_service.devices.domain import Device
from telemetry_service.readings.domain import Reading
from telemetry_service.settings import TelemetrySettings


def policy(settings: TelemetrySettings) -> AlarmPolicy:
    return AlarmPolicy(
        grace=timedelta(seconds=settings.telemetry_alarm_grace_seconds),
        flap=timedelta(seconds=settings.telemetry_alarm_flap_seconds),
    )


def episodes_after(
    episodes: dict[str, Episode], policy: AlarmPolicy, reading: Reading
) -> tuple[dict[str, Episode], list[Episode]]:
    """The device's open episodes by code once `reading` (its latest) is judged, and those it raised."""
    active = active_codes(reading.alarms, reading.warnings)
    if not episodes and not active:
        return episodes, []
    judged = judge(episodes, device_id=reading.device_id, read_at=reading.read_at, active=active, policy=policy)
    after = {code: episode for code, episode in episodes.items() if episode not in judged.over}
    after.update({episode.code: episode for episode in judged.changed})
    return after, judged.raised


def alarm_raised(device: Device, episode: Episode, recent: list[ReadingSummary]) -> EquipmentAlarmRaised:
    return EquipmentAlarmRaised(
        equipment_id=device.equipment_id,
        device_id=device.device_id,
        alarm_code=episode.code,
        severity=episode.severity,
        description=codes.describe(episode.code, device.controller_family)[:200],
        raised_at=episode.started_at,
        episode_id=episode.episode_id,
        recent_readings=recent,
    )
