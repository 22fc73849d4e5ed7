"""MongoDB access for alarm episodes: one document per device and code, changed only inside the
transaction that claims a reading of the device (readings/intake.py), so readings of one device judge
them one after another. The only module that names the collection."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel

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


async def episodes_of(uow: UnitOfWork, device_id: str) -> dict[str, Episode]:
    """The device's open episodes by code."""
    cursor = uow.db[ALARM_EPISODES].find({"device_id": device_id}, session=uow.session)
    return {doc["code"]: _episode(doc) async for doc in cursor}


async def save(uow: UnitOfWork, changed: list[Episode], over: list[Episode]) -> None:
    for episode in over:
        await uow.db[ALARM_EPISODES].delete_one({"_id": _key(episode)}, session=uow.session)
    for episode in changed:
        await uow.db[ALARM_EPISODES].replace_one(
            {"_id": _key(episode)},
            {
                "device_id": episode.device_id,
                "code": episode.code,
                "severity": episode.severity.value,
                "episode_id": episode.episode_id,
                "started_at": episode.started_at,
                "seen_at": episode.seen_at,
                "cleared_at": episode.cleared_at,
                "raised": episode.raised,
            },
            upsert=True,
            session=uow.session,
        )
