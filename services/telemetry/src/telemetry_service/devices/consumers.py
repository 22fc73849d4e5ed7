"""Event handlers: a recorded service restarts the count of the machine's service levels."""

from __future__ import annotations

import logging

from compressor_contracts import CloudEvent
from compressor_contracts.events.intake import CustomerFileUpdated
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from telemetry_service.devices import store
from telemetry_service.settings import TelemetryRuntime

log = logging.getLogger(__name__)

QUEUE = "telemetry.service-history"


def consumers(runtime: TelemetryRuntime) -> list[Consumer]:
    async def restart_service_count(event: CloudEvent[CustomerFileUpdated], uow: UnitOfWork) -> None:
        update = event.data
        changed = await store.service_recorded(
            uow, update.equipment_id, update.last_service_on.isoformat(), update.running_hours
        )
        if changed:
            log.info(
                "equipment %s serviced on %s: %d device(s) count anew",
                update.equipment_id,
                update.last_service_on,
                changed,
            )

    return [Consumer(QUEUE, {CustomerFileUpdated: restart_service_count})]
