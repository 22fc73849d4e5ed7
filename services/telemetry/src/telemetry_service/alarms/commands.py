"""A reading's alarms, judged in the transaction that claims it (readings/intake.py): the device's
episodes updated, and each episode that raises published once, with the machine's recent readings."""

from __future__ import annotations

from datetime import timedelta

from compressor_contracts.events.telemetry import EquipmentAlarmRaised, ReadingSummary
from compressor_kit.outbox import UnitOfWork
from telemetry_service.alarms import codes, store
from telemetry_service.alarms.domain import AlarmPolicy, active_codes, judge
from telemetry_service.devices.domain import Device
from telemetry_service.readings.domain import Reading
from telemetry_service.settings import TelemetrySettings


def policy(settings: TelemetrySettings) -> AlarmPolicy:
    return AlarmPolicy(
        grace=timedelta(seconds=settings.telemetry_alarm_grace_seconds),
        flap=timedelta(seconds=settings.telemetry_alarm_flap_seconds),
    )


async def judge_alarms(
    uow: UnitOfWork, settings: TelemetrySettings, device: Device, reading: Reading, recent: list[ReadingSummary]
) -> tuple[str, ...]:
    """Update the device's episodes with `reading` (the latest); the ids of the episodes it raised."""
    episodes = await store.episodes_of(uow, device.device_id)
    active = active_codes(reading.alarms, reading.warnings)
    if not episodes and not active:
        return ()
    judged = judge(
        episodes, device_id=device.device_id, read_at=reading.read_at, active=active, policy=policy(settings)
    )
    await store.save(uow, judged.changed, judged.over)
    for episode in judged.raised:
        await uow.publish(
            EquipmentAlarmRaised(
                equipment_id=device.equipment_id,
                device_id=device.device_id,
                alarm_code=episode.code,
                severity=episode.severity,
                description=codes.describe(episode.code, device.controller_family)[:200],
                raised_at=episode.started_at,
                episode_id=episode.episode_id,
                recent_readings=recent,
            )
        )
    return tuple(episode.episode_id for episode in judged.raised)
