"""MongoDB access for registered devices."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from compressor_kit.outbox import UnitOfWork
from compressor_kit.refusals import Refusal
from telemetry_service.devices.domain import Device
from telemetry_service.settings import TelemetryRuntime

DEVICES = "devices"

INDEXES = {
    DEVICES: [
        IndexModel([("equipment_id", ASCENDING)], name="by_equipment"),
        IndexModel([("gateway_id", ASCENDING)], name="by_gateway"),
    ],
}


def _device(doc: dict[str, Any]) -> Device:
    fields = {name: value for name, value in doc.items() if name != "_id"}
    return Device.model_validate({**fields, "device_id": doc["_id"]})


async def load(runtime: TelemetryRuntime, device_id: str) -> Device | None:
    db = runtime.db
    doc = await db[DEVICES].find_one({"_id": device_id})
    return _device(doc) if doc else None


async def load_many(runtime: TelemetryRuntime, device_ids: Collection[str]) -> dict[str, Device]:
    """The registered ones among `device_ids`, by id, in one query."""
    db = runtime.db
    return {doc["_id"]: _device(doc) async for doc in db[DEVICES].find({"_id": {"$in": list(device_ids)}})}


async def register(uow: UnitOfWork, device: Device) -> None:
    doc = {"_id": device.device_id, **device.model_dump(exclude={"device_id"})}
    doc["last_service_on"] = device.last_service_on.isoformat()
    try:
        await uow.db[DEVICES].insert_one(doc, session=uow.session)
    except DuplicateKeyError:
        raise Refusal.conflict(f"device {device.device_id} is already registered", field="device_id") from None


async def for_equipment(runtime: TelemetryRuntime, equipment_id: str) -> list[Device]:
    db = runtime.db
    return [_device(doc) async for doc in db[DEVICES].find({"equipment_id": equipment_id}).sort("_id", 1)]


async def modbus_devices(runtime: TelemetryRuntime) -> list[Device]:
    """The devices polled over Modbus TCP."""
    db = runtime.db
    return [_device(doc) async for doc in db[DEVICES].find({"modbus.host": {"$type": "string"}}).sort("_id", 1)]


async def all_devices(runtime: TelemetryRuntime, *, limit: int, offset: int) -> tuple[list[Device], int]:
    db = runtime.db
    cursor = db[DEVICES].find({}).sort("_id", 1).skip(offset).limit(limit)
    return [_device(doc) async for doc in cursor], await db[DEVICES].count_documents({})


async def service_recorded(uow: UnitOfWork, equipment_id: str, on: str, running_hours: int | None) -> int:
    """A service of the machine restarts the count of each of its devices' levels; returns how many."""
    result = await uow.db[DEVICES].update_many(
        {"equipment_id": equipment_id, "last_service_on": {"$lt": on}},
        {"$set": {"last_service_on": on, "last_service_hours": running_hours}},
        session=uow.session,
    )
    return result.modified_count
