"""MongoDB access for readings: the time-series collection, each device's last state, and the
rejections an admin reviews. The only module that names these collections."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReplaceOne, UpdateOne
from pymongo.errors import CollectionInvalid, OperationFailure

from compressor_kit.outbox import UnitOfWork
from telemetry_service.readings.domain import DeviceState, LastReading, Reading, Rejected
from telemetry_service.settings import TelemetryRuntime

READINGS = "readings"
DEVICE_STATE = "device_state"
REJECTIONS = "rejections"
DUE_RAISED = "due_raised"

NAMESPACE_EXISTS = 48  # MongoDB's error code for a collection created meanwhile

INDEXES = {
    REJECTIONS: [
        IndexModel([("received_at", DESCENDING)], name="newest_first"),
        IndexModel([("reason", ASCENDING), ("received_at", DESCENDING)], name="by_reason"),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expiry"),
    ],
    DEVICE_STATE: [],
    DUE_RAISED: [],
}


async def ensure_readings_collection(runtime: TelemetryRuntime, retention_days: int) -> None:
    """The time-series collection (one bucket per device, readings about a minute apart), its
    retention (MongoDB removes readings older than it), and its index for one device's recent
    readings."""
    db = runtime.db
    try:
        await db.create_collection(
            READINGS,
            timeseries={"timeField": "read_at", "metaField": "device_id", "granularity": "minutes"},
            expireAfterSeconds=retention_days * 86_400,
        )
    except (CollectionInvalid, OperationFailure) as exists:
        # Replicas starting together: the one that did not create it is told it exists, either way.
        if isinstance(exists, OperationFailure) and exists.code != NAMESPACE_EXISTS:
            raise
        await db.command({"collMod": READINGS, "expireAfterSeconds": retention_days * 86_400})
    await db[READINGS].create_index([("device_id", ASCENDING), ("read_at", DESCENDING)], name="device_recent")


@dataclass(frozen=True)
class ToStore:
    """An accepted reading as the time-series collection keeps it."""

    reading: Reading
    equipment_id: str
    controller_reset: bool = False

    def document(self) -> dict[str, Any]:
        doc = self.reading.model_dump(exclude_none=True)
        doc["equipment_id"] = self.equipment_id
        if self.controller_reset:
            doc["controller_reset"] = True
        return doc


async def store_readings(runtime: TelemetryRuntime, readings: Sequence[ToStore]) -> None:
    """Time-series collections take no writes inside transactions: readings are stored after the
    transaction that claimed them (`save_states`), all in one insert, and stored again by a redelivery
    that finds them missing (`is_stored`)."""
    if readings:
        db = runtime.db
        await db[READINGS].insert_many([item.document() for item in readings], ordered=False)


async def is_stored(runtime: TelemetryRuntime, device_id: str, read_at: datetime) -> bool:
    db = runtime.db
    return await db[READINGS].find_one({"device_id": device_id, "read_at": read_at}, {"_id": 1}) is not None


async def recent_readings(
    runtime: TelemetryRuntime,
    device_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 48,
) -> list[Reading]:
    """The device's readings, newest first (between `since` and `until`, if given)."""
    db = runtime.db
    query: dict[str, Any] = {"device_id": device_id}
    window: dict[str, datetime] = {}
    if since is not None:
        window["$gte"] = since
    if until is not None:
        window["$lte"] = until
    if window:
        query["read_at"] = window
    cursor = db[READINGS].find(query, {"_id": 0, "equipment_id": 0, "controller_reset": 0})
    return [Reading.model_validate(doc) async for doc in cursor.sort("read_at", DESCENDING).limit(limit)]


def _aware(moment: datetime) -> datetime:
    # MongoDB hands back naive UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _last(doc: dict[str, Any] | None) -> LastReading | None:
    if not doc:
        return None
    return LastReading(_aware(doc["read_at"]), doc.get("running_hours"), doc.get("loaded_hours"))


def _last_doc(last: LastReading | None) -> dict[str, Any] | None:
    if last is None:
        return None
    return {"read_at": last.read_at, "running_hours": last.running_hours, "loaded_hours": last.loaded_hours}


async def states_of(uow: UnitOfWork, device_ids: Collection[str]) -> dict[str, DeviceState]:
    """The devices' states as this transaction sees them (a device with none yet has the empty state):
    read in the transaction, so a replica that claims a reading of the same device meanwhile makes this
    one retry on the state it wrote."""
    cursor = uow.db[DEVICE_STATE].find({"_id": {"$in": list(device_ids)}}, session=uow.session)
    states = {
        doc["_id"]: DeviceState(
            tuple(_aware(moment) for moment in doc.get("recent", [])), _last(doc.get("last")), _last(doc.get("anchor"))
        )
        async for doc in cursor
    }
    return {device_id: states.get(device_id, DeviceState()) for device_id in device_ids}


async def save_states(uow: UnitOfWork, states: Mapping[str, DeviceState]) -> None:
    """Record the devices' readings as taken in: one write for every device of the batch."""
    if not states:
        return
    writes = [
        ReplaceOne(
            {"_id": device_id},
            {"recent": list(state.recent), "last": _last_doc(state.last), "anchor": _last_doc(state.anchor)},
            upsert=True,
        )
        for device_id, state in states.items()
    ]
    await uow.db[DEVICE_STATE].bulk_write(writes, ordered=False, session=uow.session)


async def mark_due_raised(uow: UnitOfWork, keys: Sequence[str], now: datetime) -> set[str]:
    """Claim due points; the keys claimed now, for the first time (their events are published in this
    transaction). One write for the lot."""
    if not keys:
        return set()
    result = await uow.db[DUE_RAISED].bulk_write(
        [UpdateOne({"_id": key}, {"$setOnInsert": {"raised_at": now}}, upsert=True) for key in keys],
        ordered=True,
        session=uow.session,
    )
    return {str(key) for key in (result.upserted_ids or {}).values()}


@dataclass(frozen=True)
class RejectionRecord:
    rejected: Rejected
    source: str
    device_id: str | None
    payload: bytes | str


async def record_rejections(
    runtime: TelemetryRuntime, records: Sequence[RejectionRecord], *, now: datetime, keep_days: int
) -> None:
    """Kept for `keep_days` for an admin to see; never in a transaction with anything else."""
    if not records:
        return
    db = runtime.db
    await db[REJECTIONS].insert_many(
        [
            {
                "reason": str(record.rejected.reason),
                "detail": record.rejected.detail,
                "field": record.rejected.field,
                "device_id": record.device_id,
                "source": record.source,
                "payload": _text(record.payload)[:2000],
                "received_at": now,
                "expires_at": now + timedelta(days=keep_days),
            }
            for record in records
        ],
        ordered=False,
    )


def _text(payload: bytes | str) -> str:
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload


async def rejections(
    runtime: TelemetryRuntime, *, reason: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    db = runtime.db
    query: dict[str, Any] = {} if reason is None else {"reason": reason}
    cursor = db[REJECTIONS].find(query, {"expires_at": 0}).sort("received_at", DESCENDING).skip(offset).limit(limit)
    return [doc async for doc in cursor], await db[REJECTIONS].count_documents(query)


async def rejection_counts(runtime: TelemetryRuntime) -> dict[str, int]:
    db = runtime.db
    pipeline = [{"$group": {"_id": "$reason", "count": {"$sum": 1}}}]
    return {row["_id"]: row["count"] async for row in await db[REJECTIONS].aggregate(pipeline)}
