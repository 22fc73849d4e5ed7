"""The parts catalogue with stock levels, and stock receipts."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from pydantic import BaseModel, ConfigDict, Field

from compressor_kit.auth import Role, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.runtime import Runtime
from maintenance_service.parts import store as stock
from maintenance_service.parts.domain import CATALOGUE
from maintenance_service.work_orders.domain import Refused

STAFF = (Role.ENGINEER, Role.MANAGER, Role.DISPATCHER, Role.ADMIN)


def _view(part_number: FromPath[str], level: dict) -> dict[str, Any]:
    part = CATALOGUE[part_number]
    return {"part_number": part_number, "description": part.description, "unit": part.unit, **level}


def _known(part_number: FromPath[str]) -> None:
    if part_number not in CATALOGUE:
        raise Refused(404, f"unknown part number {part_number!r}", field="part_number")


@get("/parts", **requires(*STAFF), operation_id="listParts", summary="The parts catalogue with stock levels")
async def list_parts(runtime: NamedDependency[Runtime], limit: Limit = 50, offset: Offset = 0) -> Page[dict[str, Any]]:
    numbers = sorted(CATALOGUE)[offset : offset + limit]
    levels = await stock.stock_levels(runtime.db, numbers)
    return Page(items=[_view(n, levels[n]) for n in numbers], total=len(CATALOGUE), limit=limit, offset=offset)


@get("/parts/{part_number:str}", **requires(*STAFF), operation_id="getPart", summary="One part and its stock")
async def get_part(part_number: FromPath[str], runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    _known(part_number)
    return _view(part_number, (await stock.stock_levels(runtime.db, [part_number]))[part_number])


class Receipt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: float = Field(gt=0, le=100_000, description="Quantity received into the store, in the part's unit.")


@post(
    "/parts/{part_number:str}/receipts",
    **requires(Role.MANAGER, Role.ADMIN),
    operation_id="receiveStock",
    summary="Book parts received into the store (a plan waiting for them can then be approved)",
)
async def receive_stock(
    part_number: FromPath[str], data: JSONBody[Receipt], runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    _known(part_number)
    now = runtime.clock.now()
    await runtime.outbox.transact(lambda uow: stock.receive(uow, part_number, data.quantity, now))
    return _view(part_number, (await stock.stock_levels(runtime.db, [part_number]))[part_number])


ROUTES = [list_parts, get_part, receive_stock]
