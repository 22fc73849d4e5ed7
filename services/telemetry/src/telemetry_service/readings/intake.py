"""Taking readings in, whatever way they came (MQTT, a Modbus poll, the rows of an uploaded export):
judge each, store them, and publish what they make due or what alarms they raise, exactly once.

Readings are taken in as a batch (over MQTT, whatever arrived while the last batch was stored; one for
a poll), judged in the order they came, and a batch costs a handful of round trips to MongoDB whatever
its size: its devices in one query; one transaction that reads their states and alarm episodes, claims
every reading in its device's state, records each due point crossed and the episodes changed, with the
events of those that raise; then the accepted readings in one insert into the time-series collection
(which takes no transactional writes) and the rejections in another. The machine's recent readings are
read only for an event to publish. A redelivery of a claimed reading stores it if it is missing and
publishes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from compressor_contracts.events.telemetry import EquipmentServiceCameDue, ReadingSummary
from compressor_kit.outbox import UnitOfWork
from telemetry_service.alarms import store as alarms
from telemetry_service.alarms.commands import alarm_raised, episodes_after, policy
from telemetry_service.alarms.domain import Episode
from telemetry_service.devices import store as devices
from telemetry_service.devices.domain import Device, DuePoint, comes_due, due_points
from telemetry_service.readings import domain, store
from telemetry_service.readings.domain import DeviceState, Reading, Rejected, RejectionReason
from telemetry_service.readings.store import RejectionRecord, ToStore
from telemetry_service.settings import TelemetryRuntime

log = logging.getLogger(__name__)

RECENT_SENT = 48  # readings an event carries: the one that raised it and those before it


@dataclass(frozen=True)
class Arrival:
    """One reading as it came: its payload (or the reading a poll decoded), its way in and, over MQTT,
    the gateway the broker checked it came from."""

    payload: bytes | str | dict[str, Any] | Reading
    source: str
    gateway_id: str | None = None

    def raw(self) -> bytes | str:
        if isinstance(self.payload, Reading):
            return self.payload.model_dump_json()
        return self.payload if isinstance(self.payload, bytes | str) else str(self.payload)


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
    return (await take_in_all(runtime, [Arrival(payload, source, gateway_id)]))[0]


async def take_in_reading(runtime: TelemetryRuntime, reading: Reading, *, source: str) -> Outcome:
    """A reading decoded here (a Modbus poll): judged and stored as one that arrived."""
    return (await take_in_all(runtime, [Arrival(reading, source)]))[0]


@dataclass(frozen=True)
class _Candidate:
    """A well-formed reading of a registered device, from the gateway it is registered to."""

    index: int
    arrival: Arrival
    device: Device
    reading: Reading


@dataclass
class _Batch:
    """What one attempt of the transaction decided (rebuilt from scratch if the driver retries it)."""

    outcomes: dict[int, Outcome] = field(default_factory=dict)
    rejections: list[RejectionRecord] = field(default_factory=list)
    to_store: list[ToStore] = field(default_factory=list)
    duplicates: list[_Candidate] = field(default_factory=list)
    accepted_sources: list[str] = field(default_factory=list)

    def reject(self, candidate: _Candidate, rejected: Rejected) -> None:
        self.outcomes[candidate.index] = Outcome(False, reason=rejected.reason)
        arrival = candidate.arrival
        self.rejections.append(RejectionRecord(rejected, arrival.source, candidate.device.device_id, arrival.raw()))


async def take_in_all(runtime: TelemetryRuntime, arrivals: Sequence[Arrival]) -> list[Outcome]:
    """Judge and store `arrivals` in their order; one outcome each, in the same order. Never raises for
    bad input (it is recorded as a rejection); raises when MongoDB is away, with nothing half-written
    that a second delivery would not complete."""
    now = runtime.clock.now()
    parsed = [a.payload if isinstance(a.payload, Reading) else domain.parse(a.payload) for a in arrivals]
    known = await devices.load_many(runtime, {p.device_id for p in parsed if isinstance(p, Reading)})
    refused: dict[int, tuple[Rejected, str | None]] = {}
    candidates: list[_Candidate] = []
    for index, (arrival, reading) in enumerate(zip(arrivals, parsed, strict=True)):
        if isinstance(reading, Rejected):
            refused[index] = (reading, None)
        elif (device := known.get(reading.device_id)) is None:
            refused[index] = (
                Rejected(RejectionReason.UNKNOWN_DEVICE, f"no device {reading.device_id} is registered", "device_id"),
                reading.device_id,
            )
        elif arrival.gateway_id is not None and device.gateway_id != arrival.gateway_id:
            refused[index] = (
                Rejected(
                    RejectionReason.WRONG_GATEWAY,
                    f"device {device.device_id} is not registered to gateway {arrival.gateway_id}",
                    "device_id",
                ),
                device.device_id,
            )
        else:
            candidates.append(_Candidate(index, arrival, device, reading))

    async def record(uow: UnitOfWork) -> _Batch:
        return await _record(uow, runtime, candidates, now)

    batch = await runtime.outbox.transact(record) if candidates else _Batch()
    await store.store_readings(runtime, batch.to_store)
    for candidate in batch.duplicates:
        # Claimed before but never stored (the process stopped in between): stored now.
        if not await store.is_stored(runtime, candidate.device.device_id, candidate.reading.read_at):
            await store.store_readings(runtime, [ToStore(candidate.reading, candidate.device.equipment_id)])
    for index, (rejected, device_id) in refused.items():
        arrival = arrivals[index]
        batch.outcomes[index] = Outcome(False, reason=rejected.reason)
        batch.rejections.append(RejectionRecord(rejected, arrival.source, device_id, arrival.raw()))
    await store.record_rejections(
        runtime, batch.rejections, now=now, keep_days=runtime.settings.telemetry_rejections_keep_days
    )
    _count(runtime, batch)
    return [batch.outcomes[index] for index in range(len(arrivals))]


async def _record(uow: UnitOfWork, runtime: TelemetryRuntime, candidates: list[_Candidate], now: datetime) -> _Batch:
    """The transaction: load the devices' states and episodes, judge every reading in order against
    them (pure), then write the states, the due points and the episodes, and publish the events."""
    settings = runtime.settings
    window = domain.Window(
        timedelta(minutes=settings.telemetry_future_minutes), timedelta(days=settings.telemetry_past_days)
    )
    alarm_policy = policy(settings)
    device_ids = {c.device.device_id for c in candidates}
    states = await store.states_of(uow, device_ids)
    episodes_before = await alarms.episodes_of(uow, device_ids)
    episodes = dict(episodes_before)
    batch = _Batch()
    taken: dict[str, list[Reading]] = {device_id: [] for device_id in device_ids}  # this batch's, in order
    changed: set[str] = set()
    due: list[tuple[_Candidate, DuePoint]] = []
    raised_alarms: list[tuple[_Candidate, Episode]] = []
    for candidate in candidates:
        device, reading = candidate.device, candidate.reading
        state = states[device.device_id]
        if await _taken_in_before(runtime, state, reading, taken[device.device_id]):
            batch.reject(candidate, _duplicate(reading))
            batch.duplicates.append(candidate)
            continue
        decision = domain.assess(reading, state.last, now, window)
        if isinstance(decision, Rejected):
            batch.reject(candidate, decision)
            continue
        if decision.controller_reset:
            log.warning(
                "device %s: hour counters restarted (controller reset) at %s", device.device_id, reading.read_at
            )
        batch.outcomes[candidate.index] = Outcome(True)
        batch.to_store.append(ToStore(reading, device.equipment_id, decision.controller_reset))
        batch.accepted_sources.append(candidate.arrival.source)
        states[device.device_id] = state.taking(reading)
        changed.add(device.device_id)
        taken[device.device_id].append(reading)
        if not state.is_later(reading.read_at):
            continue  # a late reading says nothing about what is due or alarming now
        use = domain.hours_per_day(state.anchor, reading, settings.telemetry_default_hours_per_day)
        due.extend((candidate, point) for point in _coming_due(runtime, device, reading, use))
        episodes[device.device_id], raised = episodes_after(episodes[device.device_id], alarm_policy, reading)
        raised_alarms.extend((candidate, episode) for episode in raised)

    await store.save_states(uow, {device_id: states[device_id] for device_id in changed})
    await alarms.save(uow, episodes_before, episodes)
    first_raising: dict[str, tuple[_Candidate, DuePoint]] = {}
    for candidate, point in due:
        first_raising.setdefault(point.key, (candidate, point))
    claimed = await store.mark_due_raised(uow, list(first_raising), now)
    for key, (candidate, point) in first_raising.items():
        if key in claimed:
            recent = await _recent(runtime, candidate, taken[candidate.device.device_id])
            await uow.publish(_came_due(candidate, point, recent))
            _add_raised(batch, candidate.index, due_key=key)
    for candidate, episode in raised_alarms:
        recent = await _recent(runtime, candidate, taken[candidate.device.device_id])
        await uow.publish(alarm_raised(candidate.device, episode, recent))
        _add_raised(batch, candidate.index, episode_id=episode.episode_id)
    return batch


async def _taken_in_before(
    runtime: TelemetryRuntime, state: DeviceState, reading: Reading, this_batch: list[Reading]
) -> bool:
    """Among the read_at values the state remembers or this batch took in, or, older than the last
    reading (an export uploaded again, a gateway replaying its buffer), found in the time-series
    collection."""
    if state.has(reading.read_at) or any(r.read_at == reading.read_at for r in this_batch):
        return True
    if state.is_later(reading.read_at):
        return False
    return await store.is_stored(runtime, reading.device_id, reading.read_at)


def _coming_due(runtime: TelemetryRuntime, device: Device, reading: Reading, hours_per_day: float) -> list[DuePoint]:
    today = reading.read_at.date()
    return [
        point
        for point in due_points(
            device,
            today=today,
            running_hours=reading.running_hours,
            remaining_hours=dict(reading.remaining_hours),
            hours_per_day=hours_per_day,
        )
        if comes_due(point, today, runtime.settings.telemetry_service_lead_days)
    ]


def _came_due(candidate: _Candidate, point: DuePoint, recent: list[ReadingSummary]) -> EquipmentServiceCameDue:
    device, reading = candidate.device, candidate.reading
    return EquipmentServiceCameDue(
        equipment_id=device.equipment_id,
        device_id=device.device_id,
        service_level=point.level,
        due_by=point.due_by,
        due_at_hours=point.due_at_hours,
        due_on=point.due_on,
        running_hours=None if reading.running_hours is None else int(reading.running_hours),
        due_key=point.key,
        recent_readings=recent,
    )


def _add_raised(batch: _Batch, index: int, *, due_key: str | None = None, episode_id: str | None = None) -> None:
    outcome = batch.outcomes[index]
    batch.outcomes[index] = Outcome(
        True,
        due_raised=outcome.due_raised + ((due_key,) if due_key else ()),
        alarms_raised=outcome.alarms_raised + ((episode_id,) if episode_id else ()),
    )


async def _recent(runtime: TelemetryRuntime, candidate: _Candidate, this_batch: list[Reading]) -> list[ReadingSummary]:
    """The reading that raised an event and the ones before it since the last service, at most
    RECENT_SENT, oldest first: from the time-series collection and, not stored yet, this batch."""
    reading, since = candidate.reading, _since(candidate.device)
    stored = await store.recent_readings(
        runtime, reading.device_id, since=since, until=reading.read_at, limit=RECENT_SENT
    )
    batch_before = [r for r in this_batch if since <= r.read_at <= reading.read_at]
    by_instant = {r.read_at: r for r in [*stored, *batch_before, reading]}
    newest_first = sorted(by_instant.values(), key=lambda r: r.read_at, reverse=True)[:RECENT_SENT]
    return [r.summary() for r in reversed(newest_first)]


def _since(device: Device) -> datetime:
    return datetime.combine(device.last_service_on, time(), tzinfo=UTC)


def _duplicate(reading: Reading) -> Rejected:
    """Absorbed: counted and recorded, nothing published again."""
    return Rejected(
        RejectionReason.DUPLICATE, f"reading of {reading.read_at.isoformat()} was taken in before", "read_at"
    )


def _count(runtime: TelemetryRuntime, batch: _Batch) -> None:
    accepted = runtime.metrics.counter("compressor_telemetry_readings_accepted", "readings taken in", ("source",))
    for source in batch.accepted_sources:
        accepted.labels(source).inc()
    rejected = runtime.metrics.counter(
        "compressor_telemetry_readings_rejected", "readings rejected, by reason", ("source", "reason")
    )
    for record in batch.rejections:
        rejected.labels(record.source, str(record.rejected.reason)).inc()
        log.info("reading rejected (%s, %s): %s", record.rejected.reason, record.source, record.rejected.detail)
