"""The silence watch: a periodic job (every TELEMETRY_SILENCE_CHECK_SECONDS) that publishes
equipment.went_silent once per silence of TELEMETRY_SILENCE_DAYS or more. Replicas may run it at once:
each silence is claimed under its key in the transaction that publishes it."""

from __future__ import annotations

import logging
from datetime import timedelta

from compressor_contracts.events.telemetry import EquipmentWentSilent
from compressor_kit.outbox import UnitOfWork
from telemetry_service.settings import TelemetryRuntime
from telemetry_service.silence import store
from telemetry_service.silence.domain import Silence, silent

log = logging.getLogger(__name__)


async def report_silent_devices(runtime: TelemetryRuntime) -> list[str]:
    """One round: the keys of the silences reported now."""
    now, days = runtime.clock.now(), runtime.settings.telemetry_silence_days
    quiet = await store.quiet_since(runtime, now - timedelta(days=days))
    silences = [s for doc in quiet if (s := silent(**doc, now=now, days=days)) is not None]
    known = await store.reported(runtime, [s.key for s in silences])
    reported = []
    for silence in silences:
        if silence.key in known:
            continue

        async def report(uow: UnitOfWork, silence: Silence = silence) -> bool:
            if not await store.mark_reported(uow, silence.key, now):
                return False  # another replica reported it meanwhile
            await uow.publish(
                EquipmentWentSilent(
                    equipment_id=silence.equipment_id,
                    device_id=silence.device_id,
                    last_reading_at=silence.last_reading_at,
                    silent_days=silence.days(now),
                )
            )
            return True

        if await runtime.outbox.transact(report):
            log.warning("device %s of %s silent for %d days", silence.device_id, silence.equipment_id, days)
            reported.append(silence.key)
    return reported
