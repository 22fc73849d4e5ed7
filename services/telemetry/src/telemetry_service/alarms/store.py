"""MongoDB access for alarm episodes: one document per device and code, changed only inside the
transaction that claims readings of the device (readings/intake.py), so readings of one device judge
them one after another. The only module that names the collection."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DeleteOne, IndexModel, ReplaceOne

from compressor_contracts.events.telemetry import AlarmSeverity
from compressor_kit.outbox import UnitOfWork
from telemetry_service.alarms.domain import Episode

ALARM_EPISODES = "alarm_episodes"

INDEXES = {ALARM_EPISODES: [IndexModel([("device_id", ASCENDING)], name="by_device")]}


def _key(episode: Episode) -> str:
    return f"{episode.device_id}|{episode.code}"


def _aware(moment: datetime | None) -> datetime | None:
    # MongoDB hands back naive UTC.
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _episode(doc: dict[str, Any]) -> Episode:
    return Episode(
        device_id=doc["device_id"],
        code=doc["code"],
        severity=AlarmSeverity(doc["severity"]),
        started_at=doc["started_at"].replace(tzinfo=UTC),
        seen_at=doc["seen_at"].replace(tzinfo=UTC),
        cleared_at=_aware(doc.get("cleared_at")),
        raised=doc["raised"],
    )


async def episodes_of(uow: UnitOfWork, device_ids: Collection[str]) -> dict[str, dict[str, Episode]]:
    """Each device's open episodes by code (a device with none has an empty map)."""
    cursor = uow.db[ALARM_EPISODES].find({"device_id": {"$in": list(device_ids)}}, session=uow.session)
    found: dict[str, dict[str, Episode]] = {device_id: {} for device_id in device_ids}
    async for doc in cursor:
        found.setdefault(doc["device_id"], {})[doc["code"]] = _episode(doc)
    return found


async def save(
    uow: UnitOfWork, before: Mapping[str, Mapping[str, Episode]], after: Mapping[str, Mapping[str, Episode]]
) -> None:
    """Write what changed between `before` and `after` (episodes by device and code), in one request."""
    writes: list[DeleteOne | ReplaceOne[dict[str, Any]]] = []
    for device_id, episodes in after.items():
        earlier = before.get(device_id, {})
        for code, episode in earlier.items():
            if code not in episodes:
                writes.append(DeleteOne({"_id": _key(episode)}))
        for code, episode in episodes.items():
            if earlier.get(code) != episode:
                writes.append(ReplaceOne({"_id": _key(episode)}, _document(episode), upsert=True))
    if writes:
        await uow.db[ALARM_EPISODES].bulk_write(writes, ordered=True, session=uow.session)


def _document(episode: Episode) -> dict[str, Any]:
    return {
        "device_id": episode.device_id,
        "code": episode.code,
        "severity": episode.severity.value,
        "episode_id": episode.episode_id,
        "started_at": episode.started_at,
        "seen_at": episode.seen_at,
        "cleared_at": episode.cleared_at,
        "raised": episode.raised,
    }
