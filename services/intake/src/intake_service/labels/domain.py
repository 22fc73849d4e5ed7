"""QR labels on machines (pure, no I/O): what a label says and where its code leads.

A label carries the unit's `label_id` (random, 144 bits; see `customer_file.domain.new_label_id`), never
the serial number or the customer id: from a label, only the console's scan page leads on, and that
page shows what is printed on the label anyway (the model and the serial).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from compressor_kit.refusals import Refusal
from intake_service.customer_file.domain import SiteOnFile, UnitOnFile

SCAN_LINE = "Imbas untuk servis / Scan for service"
"""The label's one line for people, in both languages: a label is read before anyone picks a language."""

LABEL_ID_LENGTH = 24
"""`secrets.token_urlsafe(18)`: 18 bytes, 24 characters."""


def scan_url(console_public_url: str, label_id: str) -> str:
    """What the QR code encodes: the console's scan page of the machine."""
    return f"{console_public_url.rstrip('/')}/m/{label_id}"


def plausible_label_id(label_id: str) -> bool:
    """Cheap check before a lookup: the characters and length a label id has (never a serial's)."""
    return len(label_id) == LABEL_ID_LENGTH and all(c.isascii() and (c.isalnum() or c in "-_") for c in label_id)


class MachineOnLabel(BaseModel):
    """What anyone who scans a label may see: what is printed on the label, nothing of its owner."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "label_id": "q3ZbT0vC9xkP2mR7sLw4nA8d",
                    "brand": "Atlas Copco",
                    "model": "GA 37 VSD+",
                    "serial_number": "API123456",
                }
            ]
        }
    )

    label_id: str
    brand: str
    model: str
    serial_number: str


def machine_on_label(unit: UnitOnFile) -> MachineOnLabel:
    if unit.label_id is None:
        raise Refusal.not_found("unknown label", field="label_id")
    return MachineOnLabel(label_id=unit.label_id, brand=unit.brand, model=unit.model, serial_number=unit.serial_number)


@dataclass(frozen=True)
class Label:
    """One label of a sheet."""

    url: str
    brand: str
    model: str
    serial_number: str
    site_name: str


def labels_of_site(site: SiteOnFile, units: list[UnitOnFile], console_public_url: str) -> list[Label]:
    """The site's labels, one per unit that has its label id, by model then serial."""
    ordered = sorted((u for u in units if u.label_id), key=lambda u: (u.brand, u.model, u.serial_number))
    return [
        Label(
            url=scan_url(console_public_url, unit.label_id or ""),
            brand=unit.brand,
            model=unit.model,
            serial_number=unit.serial_number,
            site_name=site.name,
        )
        for unit in ordered
    ]
