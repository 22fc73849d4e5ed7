"""HTTP API of devices: register a controller or gateway for a machine, list them."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts.common import Identifier, ShortText
from compressor_kit.auth import requires
from compressor_kit.outbox import UnitOfWork
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.refusals import Refusal
from telemetry_service.devices import store as devices
from telemetry_service.devices.domain import Device, ServiceLevelInterval
from telemetry_service.modbus import maps
from telemetry_service.modbus.domain import ModbusAddress, host_problem
from telemetry_service.roles import MANAGEMENT, STAFF
from telemetry_service.settings import TelemetryRuntime

DEVICE_TAGS = ["Devices"]


class DeviceIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "device_id": "DEV-7781-GW1",
                    "equipment_id": "EQ-7781",
                    "gateway_id": "GW-SHAHALAM-2",
                    "controller_family": "elektronikon",
                    "service_levels": [{"level": "A", "hours": 4000, "months": 12}],
                    "last_service_on": "2026-03-03",
                    "last_service_hours": 23436,
                    "modbus": {"host": "10.20.1.15", "port": 502, "unit_id": 1},
                }
            ]
        },
    )

    device_id: Identifier
    equipment_id: Identifier
    gateway_id: Identifier | None = None
    controller_family: ShortText
    service_levels: list[ServiceLevelInterval] = Field(min_length=1, max_length=10)
    last_service_on: date
    last_service_hours: int | None = Field(default=None, ge=0, le=1_000_000)
    modbus: ModbusAddress | None = Field(
        default=None, description="Where the controller answers Modbus TCP, to poll it with its family's register map."
    )


@post("/devices", **requires(*MANAGEMENT), operation_id="RegisterDevice", tags=DEVICE_TAGS, status_code=201)
async def register_device(data: JSONBody[DeviceIn], runtime: NamedDependency[TelemetryRuntime]) -> Device:
    """Register a controller or gateway for a machine, with the service levels its model counts (from
    the equipment catalogue)."""
    if data.modbus is not None:
        if problem := host_problem(data.modbus.host):
            raise Refusal.invalid(problem, field="modbus.host")
        if maps.for_family(data.controller_family) is None:
            known = ", ".join(sorted(maps.register_maps()))
            raise Refusal.invalid(
                f"no register map for controller family {data.controller_family!r} (known: {known})",
                field="controller_family",
            )
    device = Device(**data.model_dump(), registered_at=runtime.clock.now())

    async def record(uow: UnitOfWork) -> None:
        await devices.register(uow, device)

    await runtime.outbox.transact(record)
    return device


@get("/devices", **requires(*STAFF), operation_id="ListDevices", tags=DEVICE_TAGS)
async def list_devices(
    runtime: NamedDependency[TelemetryRuntime],
    equipment_id: Annotated[Identifier | None, Parameter(description="Only this machine's devices.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[Device]:
    if equipment_id is not None:
        found = await devices.for_equipment(runtime, equipment_id)
        return Page(items=found[offset : offset + limit], total=len(found), limit=limit, offset=offset)
    items, total = await devices.all_devices(runtime, limit=limit, offset=offset)
    return Page(items=items, total=total, limit=limit, offset=offset)


ROUTES = [register_device, list_devices]
