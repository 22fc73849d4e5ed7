"""MongoDB access for readings: the time-series collection, each device's last state, and the
rejections an admin reviews. The only module that names these collections."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import CollectionInvalid, OperationFailure

from compressor_kit.outbox import UnitOfWork
from telemetry_service.readings.domain import LastReading, Reading, Rejected
from telemetry_service.settings import TelemetryRuntime

READINGS = "readings"
DEVICE_STATE = "device_state"
REJECTIONS = "rejections"
DUE_RAISED = "due_raised"

NAMESPACE_EXISTS = 48  # MongoDB's error code for a collection created meanwhile

RECENT_KEPT = 32  # read_at values kept per device to recognise a redelivered reading
ANCHOR_DAYS = 14  # the reading recent use (hours per day) is measured from is renewed this often

INDEXES = {
    REJECTIONS: [
        IndexModel([("received_at", DESCENDING)], name="newest_first"),
        IndexModel([("reason", ASCENDING), ("received_at", DESCENDING)], name="by_reason"),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expiry"),
    ],
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


def _document(reading: Reading, equipment_id: str, controller_reset: bool) -> dict[str, Any]:
    doc = reading.model_dump(exclude_none=True)
    doc["equipment_id"] = equipment_id
    if controller_reset:
        doc["controller_reset"] = True
    return doc


async def store_reading(
    runtime: TelemetryRuntime, reading: Reading, equipment_id: str, *, controller_reset: bool
) -> None:
    """Time-series collections take no writes inside transactions: the reading is stored on its own,
    after its transaction claimed it (`claim`), and stored again by a redelivery that finds it missing
    (`is_stored`)."""
    db = runtime.db
    await db[READINGS].insert_one(_document(reading, equipment_id, controller_reset))


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


class DeviceState:
    """What was taken in from one device: the last reading, the last read_at values, the anchor."""

    def __init__(self, doc: dict[str, Any] | None) -> None:
        doc = doc or {}
        self.recent: list[datetime] = doc.get("recent", [])
        self.last = _last(doc.get("last"))
        self.anchor = _last(doc.get("anchor"))

    def has(self, read_at: datetime) -> bool:
        return any(_same_instant(seen, read_at) for seen in self.recent)


def _last(doc: dict[str, Any] | None) -> LastReading | None:
    if not doc:
        return None
    return LastReading(doc["read_at"], doc.get("running_hours"), doc.get("loaded_hours"))


def _same_instant(a: datetime, b: datetime) -> bool:
    # MongoDB keeps milliseconds and hands back naive UTC; compare both as UTC milliseconds.
    return _millis(a) == _millis(b)


def _millis(moment: datetime) -> int:
    if moment.tzinfo is not None:
        moment = moment.replace(tzinfo=None) - (moment.utcoffset() or timedelta(0))
    return int((moment - datetime(1970, 1, 1)).total_seconds() * 1000)


async def taken_in_before(runtime: TelemetryRuntime, state: DeviceState, reading: Reading) -> bool:
    """Taken in before: among the read_at values `state` remembers, or, older than the last reading (an
    export uploaded again, a gateway replaying its buffer), found in the time-series collection."""
    if state.has(reading.read_at):
        return True
    if state.last is None or _millis(reading.read_at) >= _millis(state.last.read_at):
        return False
    return await is_stored(runtime, reading.device_id, reading.read_at)


async def load_state(runtime: TelemetryRuntime, device_id: str) -> DeviceState:
    db = runtime.db
    return DeviceState(await db[DEVICE_STATE].find_one({"_id": device_id}))


async def claim(uow: UnitOfWork, reading: Reading, state: DeviceState) -> bool:
    """Record the reading as taken in, unless a concurrent delivery of it did first; True when claimed.
    The last reading moves only forward in time (a late reading changes nothing but `recent`)."""
    snapshot = {
        "read_at": reading.read_at,
        "running_hours": reading.running_hours,
        "loaded_hours": reading.loaded_hours,
    }
    later = state.last is None or _millis(reading.read_at) > _millis(state.last.read_at)
    renew_anchor = later and (
        state.anchor is None or _millis(reading.read_at) - _millis(state.anchor.read_at) > ANCHOR_DAYS * 86_400_000
    )
    update: dict[str, Any] = {"$push": {"recent": {"$each": [reading.read_at], "$slice": -RECENT_KEPT}}}
    sets: dict[str, Any] = {}
    if later:
        sets["last"] = snapshot
    if renew_anchor:
        sets["anchor"] = snapshot if state.anchor is None else _anchor_doc(state)
    if sets:
        update["$set"] = sets
    result = await uow.db[DEVICE_STATE].update_one(
        {"_id": reading.device_id, "recent": {"$ne": reading.read_at}}, update, upsert=False, session=uow.session
    )
    if result.matched_count:
        return True
    # No state yet, or already claimed: an upsert that only inserts tells them apart.
    inserted = await uow.db[DEVICE_STATE].update_one(
        {"_id": reading.device_id},
        {"$setOnInsert": {"recent": [reading.read_at], "last": snapshot, "anchor": snapshot}},
        upsert=True,
        session=uow.session,
    )
    return inserted.upserted_id is not None


def _anchor_doc(state: DeviceState) -> dict[str, Any]:
    # The old last reading becomes the anchor: recent use is measured over the last fortnight or so.
    last = state.last
    assert last is not None
    return {"read_at": last.read_at, "running_hours": last.running_hours, "loaded_hours": last.loaded_hours}


async def mark_due_raised(uow: UnitOfWork, key: str, now: datetime) -> bool:
    """Claim a due point; True the first time (the event is then published in this transaction)."""
    result = await uow.db[DUE_RAISED].update_one(
        {"_id": key}, {"$setOnInsert": {"raised_at": now}}, upsert=True, session=uow.session
    )
    return result.upserted_id is not None


async def record_rejection(
    runtime: TelemetryRuntime,
    rejected: Rejected,
    *,
    source: str,
    device_id: str | None,
    payload: bytes | str,
    now: datetime,
    keep_days: int,
) -> None:
    """Kept for `keep_days` for an admin to see; never in a transaction with anything else."""
    db = runtime.db
    excerpt = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    await db[REJECTIONS].insert_one(
        {
            "reason": str(rejected.reason),
            "detail": rejected.detail,
            "field": rejected.field,
            "device_id": device_id,
            "source": source,
            "payload": excerpt[:2000],
            "received_at": now,
            "expires_at": now + timedelta(days=keep_days),
        }
    )


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
