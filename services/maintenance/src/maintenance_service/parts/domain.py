"""The parts catalogue and the stock decisions. Pure: no I/O.

Stock per part: `on_hand` (in the store) and `reserved` (promised to approved plans);
available = on_hand - reserved. Approval reserves a plan's parts; completing a round consumes
what was used (from the job's reservation first) and releases what the round did not use.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts.common import PartLine, PartNumber, PartUsed, Unit
from compressor_kit.refusals import Refusal

SEED = Path(__file__).parent / "seed" / "parts.json"


class CataloguePart(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    part_number: PartNumber
    description: str = Field(min_length=1, max_length=200)
    unit: Unit = "pcs"
    opening_stock: float = Field(ge=0)


def load_catalogue(path: Path = SEED) -> dict[str, CataloguePart]:
    parts = [CataloguePart.model_validate(p) for p in json.loads(path.read_text())["parts"]]
    return {p.part_number: p for p in parts}


CATALOGUE = load_catalogue()


def known_part(catalogue: dict[str, CataloguePart], part_number: str, field_name: str) -> CataloguePart:
    part = catalogue.get(part_number)
    if part is None:
        raise Refusal.invalid(f"unknown part number {part_number!r}: not in the parts catalogue", field=field_name)
    return part


def totals(lines: Iterable[PartLine]) -> dict[str, float]:
    """Quantity per part number (a part may appear on several lines)."""
    result: dict[str, float] = {}
    for line in lines:
        result[line.part_number] = result.get(line.part_number, 0) + line.quantity
    return result


def shortages(
    needed: Iterable[PartLine], available: dict[str, float], catalogue: dict[str, CataloguePart]
) -> list[PartLine]:
    """The parts the store cannot supply now, each with the quantity missing."""
    missing = []
    for part_number, quantity in totals(needed).items():
        short = quantity - max(available.get(part_number, 0), 0)
        if short > 0:
            part = catalogue[part_number]
            missing.append(
                PartLine(part_number=part_number, description=part.description, quantity=short, unit=part.unit)
            )
    return missing


def waiting_reason(missing: list[PartLine]) -> str | None:
    if not missing:
        return None
    items = "; ".join(f"{p.part_number} {p.description}: {p.quantity:g} {p.unit} short" for p in missing)
    return f"waiting for parts out of stock: {items}"


@dataclass(frozen=True)
class StockLevel:
    """One part in the store."""

    on_hand: float
    reserved: float
    """Promised to approved plans."""

    @property
    def available(self) -> float:
        return self.on_hand - self.reserved


@dataclass(frozen=True)
class Settlement:
    """What completing a round does to the stock."""

    from_reservation: dict[str, float] = field(default_factory=dict)
    """Consumed out of the job's reservation."""
    from_free_stock: dict[str, float] = field(default_factory=dict)
    """Consumed beyond the reservation (parts outside the plan, or more than planned)."""
    released: dict[str, float] = field(default_factory=dict)
    """Reserved but not used: back to available stock."""


def settle(reserved: dict[str, float], used: Iterable[PartUsed]) -> Settlement:
    from_reservation: dict[str, float] = {}
    from_free: dict[str, float] = {}
    for part_number, quantity in totals(used).items():
        taken = min(quantity, reserved.get(part_number, 0))
        if taken > 0:
            from_reservation[part_number] = taken
        if quantity - taken > 0:
            from_free[part_number] = quantity - taken
    released = {
        pn: qty - from_reservation.get(pn, 0) for pn, qty in reserved.items() if qty - from_reservation.get(pn, 0) > 0
    }
    return Settlement(from_reservation, from_free, released)
