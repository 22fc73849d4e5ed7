"""Taking one reading in, whatever way it came (MQTT, a Modbus poll, a row of an uploaded export):
judge it, store it, and publish what it makes due or what alarm it raises, exactly once.

The flow: parse -> known device (and its gateway) -> not seen before -> assess -> one transaction that
claims the reading in the device's state, records every due point it crosses with its event and
updates the device's alarm episodes (alarms/) with the events of those that raise ->
the reading into the time-series collection (which takes no transactional writes). A redelivery of a
claimed reading stores it if it is missing and publishes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from compressor_contracts.events.telemetry import EquipmentServiceCameDue, ReadingSummary
from compressor_kit.outbox import UnitOfWork
from telemetry_service.alarms.commands import judge_alarms
from telemetry_service.devices import store as devices
from telemetry_service.devices.domain import Device, comes_due, due_points
from telemetry_service.readings import domain, store
from telemetry_service.readings.domain import Accepted, Reading, Rejected, RejectionReason
from telemetry_service.settings import TelemetryRuntime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    accepted: bool
    reason: RejectionReason | None = None
    due_raised: tuple[str, ...] = ()
    alarms_raised: tuple[str, ...] = ()


async def take_in(
    runtime: TelemetryRuntime, payload: bytes | str | dict[str, Any], *, source: str, gateway_id: str | None = None
) -> Outcome:
    """Judge and store one reading; never raises for bad input (it is recorded as a rejection)."""
    parsed = domain.parse(payload)
    if isinstance(parsed, Rejected):
        return await _reject(runtime, parsed, source=source, device_id=None, payload=payload)
    return await take_in_reading(runtime, parsed, source=source, gateway_id=gateway_id, payload=payload)


async def take_in_reading(
    runtime: TelemetryRuntime,
    reading: Reading,
    *,
    source: str,
    gateway_id: str | None = None,
    payload: bytes | str | dict[str, Any] | None = None,
) -> Outcome:
    settings, now = runtime.settings, runtime.clock.now()
    raw = payload if payload is not None else reading.model_dump_json()
    device = await devices.load(runtime, reading.device_id)
    if device is None:
        rejected = Rejected(RejectionReason.UNKNOWN_DEVICE, f"no device {reading.device_id} is registered", "device_id")
        return await _reject(runtime, rejected, source=source, device_id=reading.device_id, payload=raw)
    if gateway_id is not None and device.gateway_id != gateway_id:
        rejected = Rejected(
            RejectionReason.WRONG_GATEWAY,
            f"device {device.device_id} is not registered to gateway {gateway_id}",
            "device_id",
        )
        return await _reject(runtime, rejected, source=source, device_id=device.device_id, payload=raw)
    state = await store.load_state(runtime, device.device_id)
    if await store.taken_in_before(runtime, state, reading):
        return await _duplicate(runtime, device, reading, source=source, payload=raw)
    window = domain.Window(
        timedelta(minutes=settings.telemetry_future_minutes), timedelta(days=settings.telemetry_past_days)
    )
    decision = domain.assess(reading, state.last, now, window)
    if isinstance(decision, Rejected):
        return await _reject(runtime, decision, source=source, device_id=device.device_id, payload=raw)
    readings_before = await store.recent_readings(runtime, device.device_id, since=_since(device), limit=47)
    use = domain.hours_per_day(state.anchor, reading, settings.telemetry_default_hours_per_day)
    later = state.last is None or reading.read_at >= state.last.read_at
    recent = _recent(reading, readings_before)

    async def record(uow: UnitOfWork) -> Outcome | None:
        if not await store.claim(uow, reading, state):
            return None
        if not later:
            return Outcome(True)  # a late reading says nothing about what is due or alarming now
        due = await _raise_due(uow, runtime, device, decision, recent, use)
        alarms = await judge_alarms(uow, settings, device, reading, recent)
        return Outcome(True, due_raised=due, alarms_raised=alarms)

    outcome = await runtime.outbox.transact(record)
    if outcome is None:
        return await _duplicate(runtime, device, reading, source=source, payload=raw)
    await store.store_reading(runtime, reading, device.equipment_id, controller_reset=decision.controller_reset)
    if decision.controller_reset:
        log.warning("device %s: hour counters restarted (controller reset) at %s", device.device_id, reading.read_at)
    runtime.metrics.counter("compressor_telemetry_readings_accepted", "readings taken in", ("source",)).labels(
        source
    ).inc()
    return outcome


async def _raise_due(
    uow: UnitOfWork,
    runtime: TelemetryRuntime,
    device: Device,
    decision: Accepted,
    recent: list[ReadingSummary],
    hours_per_day: float,
) -> tuple[str, ...]:
    reading, now = decision.reading, runtime.clock.now()
    today = reading.read_at.date()
    running_hours = None if reading.running_hours is None else int(reading.running_hours)
    raised = []
    for point in due_points(
        device,
        today=today,
        running_hours=reading.running_hours,
        remaining_hours=dict(reading.remaining_hours),
        hours_per_day=hours_per_day,
    ):
        if not comes_due(point, today, runtime.settings.telemetry_service_lead_days):
            continue
        if not await store.mark_due_raised(uow, point.key, now):
            continue
        event = EquipmentServiceCameDue(
            equipment_id=device.equipment_id,
            device_id=device.device_id,
            service_level=point.level,
            due_by=point.due_by,
            due_at_hours=point.due_at_hours,
            due_on=point.due_on,
            running_hours=running_hours,
            due_key=point.key,
            recent_readings=recent,
        )
        await uow.publish(event)
        raised.append(point.key)
    return tuple(raised)


def _recent(reading: Reading, readings_before: list[Reading]) -> list[ReadingSummary]:
    """This reading and the ones before it (newest first from the store), at most 48, oldest first."""
    newest_first = [reading.summary(), *(r.summary() for r in readings_before)][:48]
    return list(reversed(newest_first))


def _since(device: Device) -> datetime:
    return datetime.combine(device.last_service_on, time(), tzinfo=UTC)


async def _duplicate(
    runtime: TelemetryRuntime, device: Device, reading: Reading, *, source: str, payload: bytes | str | dict[str, Any]
) -> Outcome:
    """Absorbed: counted and recorded, nothing published again. A claimed reading that never reached
    the time-series collection (the process stopped in between) is stored now."""
    if not await store.is_stored(runtime, device.device_id, reading.read_at):
        await store.store_reading(runtime, reading, device.equipment_id, controller_reset=False)
    rejected = Rejected(
        RejectionReason.DUPLICATE, f"reading of {reading.read_at.isoformat()} was taken in before", "read_at"
    )
    return await _reject(runtime, rejected, source=source, device_id=device.device_id, payload=payload)


async def _reject(
    runtime: TelemetryRuntime,
    rejected: Rejected,
    *,
    source: str,
    device_id: str | None,
    payload: bytes | str | dict[str, Any],
) -> Outcome:
    text = payload if isinstance(payload, bytes | str) else str(payload)
    await store.record_rejection(
        runtime,
        rejected,
        source=source,
        device_id=device_id,
        payload=text,
        now=runtime.clock.now(),
        keep_days=runtime.settings.telemetry_rejections_keep_days,
    )
    runtime.metrics.counter(
        "compressor_telemetry_readings_rejected", "readings rejected, by reason", ("source", "reason")
    ).labels(source, str(rejected.reason)).inc()
    log.info("reading rejected (%s, %s): %s", rejected.reason, source, rejected.detail)
    return Outcome(False, reason=rejected.reason)
