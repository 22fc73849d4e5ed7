"""The parts catalogue with stock levels, and stock receipts."""

from __future__ import annotations

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import StaffRole
from compressor_contracts.common import PartNumber, Unit
from compressor_kit.auth import requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.refusals import Refusal
from maintenance_service.parts import store as stock
from maintenance_service.parts.domain import CATALOGUE, StockLevel
from maintenance_service.settings import MaintenanceRuntime

STOCK_READERS = (StaffRole.ENGINEER, StaffRole.MANAGER, StaffRole.DISPATCHER, StaffRole.ADMIN)
TAGS = ["Parts"]


class PartStock(BaseModel):
    """A catalogue part and its stock: available = on hand - reserved."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "part_number": "1622-3600-00",
                    "description": "Thermostatic valve kit (GA 30-37 VSD+)",
                    "unit": "pcs",
                    "on_hand": 4,
                    "reserved": 1,
                    "available": 3,
                }
            ]
        }
    )

    part_number: PartNumber
    description: str
    unit: Unit
    on_hand: float = Field(description="In the store.")
    reserved: float = Field(description="Promised to approved plans.")
    available: float = Field(description="On hand and not reserved.")


class Receipt(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"quantity": 2}]})

    quantity: float = Field(gt=0, le=100_000, description="Quantity received into the store, in the part's unit.")


def _view(part_number: str, level: StockLevel) -> PartStock:
    part = CATALOGUE[part_number]
    return PartStock(
        part_number=part_number,
        description=part.description,
        unit=part.unit,
        on_hand=level.on_hand,
        reserved=level.reserved,
        available=level.available,
    )


def _known(part_number: str) -> None:
    if part_number not in CATALOGUE:
        raise Refusal.not_found(f"unknown part number {part_number!r}", field="part_number")


@get(
    "/parts",
    **requires(*STOCK_READERS),
    operation_id="listParts",
    summary="The parts catalogue with stock levels",
    tags=TAGS,
)
async def list_parts(
    runtime: NamedDependency[MaintenanceRuntime], limit: Limit = 50, offset: Offset = 0
) -> Page[PartStock]:
    numbers = sorted(CATALOGUE)[offset : offset + limit]
    levels = await stock.stock_levels(runtime, numbers)
    return Page(items=[_view(n, levels[n]) for n in numbers], total=len(CATALOGUE), limit=limit, offset=offset)


@get(
    "/parts/{part_number:str}",
    **requires(*STOCK_READERS),
    operation_id="getPart",
    summary="One part and its stock",
    tags=TAGS,
)
async def get_part(part_number: FromPath[str], runtime: NamedDependency[MaintenanceRuntime]) -> PartStock:
    _known(part_number)
    return _view(part_number, (await stock.stock_levels(runtime, [part_number]))[part_number])


@post(
    "/parts/{part_number:str}/receipts",
    **requires(StaffRole.MANAGER, StaffRole.ADMIN),
    operation_id="receiveStock",
    summary="Book parts received into the store (a plan waiting for them can then be approved)",
    tags=TAGS,
)
async def receive_stock(
    part_number: FromPath[str], data: JSONBody[Receipt], runtime: NamedDependency[MaintenanceRuntime]
) -> PartStock:
    _known(part_number)
    now = runtime.clock.now()
    level = await runtime.outbox.transact(lambda uow: stock.receive(uow, part_number, data.quantity, now))
    return _view(part_number, level)


ROUTES = [list_parts, get_part, receive_stock]
