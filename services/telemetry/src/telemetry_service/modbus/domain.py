"""Modbus TCP polling (pure, no I/O): where a controller answers, what its register map says, which
registers to read, and the Reading its registers make.

A register map is a data file per controller family (maps/, see its README): each value's register,
data type, word order, scale and unit, and the Reading field it fills; alarm, warning and
service-request bits with their codes.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from compressor_contracts.common import ShortText
from telemetry_service.readings.domain import Reading


class ModbusAddress(BaseModel):
    """Where a controller answers Modbus TCP: usually a private address on the site's network,
    reached over the site's VPN."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1, max_length=253, description="IP address or host name of the controller.")
    port: int = Field(default=502, ge=1, le=65_535)
    unit_id: int = Field(default=1, ge=0, le=255, description="Modbus unit (slave) id of the controller.")


_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def host_problem(host: str) -> str | None:
    """Why `host` cannot be a controller's address, or None. Loopback and private addresses are
    fine (a site's network, a local simulator); an address nothing can answer from is not."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        labels = host.rstrip(".").split(".")
        if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
            return f"{host!r} is neither an IP address nor a host name"
        if labels[-1].isdigit():
            return f"{host!r} is not a valid IP address"
        return None
    if address.is_unspecified or address.is_multicast or address == ipaddress.IPv4Address("255.255.255.255"):
        return f"{host} is not the address of one controller"
    if isinstance(address, ipaddress.IPv4Address) and address.is_reserved:
        return f"{host} is a reserved address"
    return None


class RegisterKind(StrEnum):
    HOLDING = "holding"
    INPUT = "input"


class DataType(StrEnum):
    UINT16 = "uint16"
    INT16 = "int16"
    UINT32 = "uint32"
    INT32 = "int32"
    FLOAT32 = "float32"


_STRUCT = {
    DataType.UINT16: ">H",
    DataType.INT16: ">h",
    DataType.UINT32: ">I",
    DataType.INT32: ">i",
    DataType.FLOAT32: ">f",
}

READING_FIELDS = (
    "running_hours",
    "loaded_hours",
    "discharge_pressure_bar",
    "element_outlet_temperature_c",
    "heartbeat",
)
REMAINING_PREFIX = "remaining_hours."


class ValueRegister(BaseModel):
    """One value of the map: one register (16 bits) or two (32 bits, in `word_order`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ShortText
    field: str | None = Field(
        description="The Reading field it fills ('remaining_hours.<level>' for a level); null: read, not stored."
    )
    register_type: RegisterKind
    address: int = Field(ge=0, le=65_534)
    data_type: DataType
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    unit: str = ""

    @field_validator("field")
    @classmethod
    def _known_field(cls, field: str | None) -> str | None:
        if field is None or field in READING_FIELDS:
            return field
        if field.startswith(REMAINING_PREFIX) and field.removeprefix(REMAINING_PREFIX):
            return field
        raise ValueError(f"{field!r} is not a Reading field")

    @property
    def count(self) -> int:
        return 1 if self.data_type in (DataType.UINT16, DataType.INT16) else 2


class BitRegister(BaseModel):
    """One bit of a status word: an alarm, a warning or a service request, by its code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: ShortText
    description: str = Field(max_length=200)
    register_type: RegisterKind
    address: int = Field(ge=0, le=65_535)
    bit: int = Field(ge=0, le=15)


class ServiceRequestBit(BitRegister):
    level: ShortText = Field(description="The service level the controller asks for.")


class RegisterMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    family: ShortText
    label: str = Field(description="What the map is, honestly: an example in a maker's style, not the maker's map.")
    values: list[ValueRegister]
    alarms: list[BitRegister] = Field(default=[], description="Shutdown bits.")
    warnings: list[BitRegister] = []
    service_requests: list[ServiceRequestBit] = []

    def bits(self) -> list[BitRegister]:
        return [*self.alarms, *self.warnings, *self.service_requests]


@dataclass(frozen=True)
class Span:
    """One read request: `count` registers of one kind from `start`."""

    kind: RegisterKind
    start: int
    count: int


MAX_SPAN = 120  # a Modbus read returns at most 125 registers


def spans(register_map: RegisterMap) -> list[Span]:
    """The fewest reads covering every register of the map. Only adjacent registers are read
    together: a controller may refuse a read that touches an address it does not define."""
    wanted: dict[RegisterKind, set[int]] = {kind: set() for kind in RegisterKind}
    for value in register_map.values:
        wanted[value.register_type].update(range(value.address, value.address + value.count))
    for bit in register_map.bits():
        wanted[bit.register_type].add(bit.address)
    found = []
    for kind in RegisterKind:
        start = previous = None
        for address in sorted(wanted[kind]):
            if start is not None and previous is not None and address == previous + 1 and address - start < MAX_SPAN:
                previous = address
                continue
            if start is not None and previous is not None:
                found.append(Span(kind, start, previous - start + 1))
            start = previous = address
        if start is not None and previous is not None:
            found.append(Span(kind, start, previous - start + 1))
    return found


Registers = Mapping[tuple[RegisterKind, int], int]
"""Register values read, by kind and address."""


def decode_value(value: ValueRegister, registers: Registers) -> float:
    words = [registers[(value.register_type, value.address + i)] for i in range(value.count)]
    if value.word_order == "little":
        words.reverse()
    raw = struct.pack(f">{len(words)}H", *words)
    (number,) = struct.unpack(_STRUCT[value.data_type], raw)
    return round(float(number) * value.scale, 6)


def encode_value(value: ValueRegister, number: float) -> list[int]:
    """The registers that hold `number` (in engineering units), from the value's first address on: the
    inverse of decode_value, for simulators and tests."""
    raw_number = number / value.scale
    packed = struct.pack(
        _STRUCT[value.data_type], raw_number if value.data_type is DataType.FLOAT32 else round(raw_number)
    )
    words = list(struct.unpack(f">{value.count}H", packed))
    if value.word_order == "little":
        words.reverse()
    return words


def bit_is_set(bit: BitRegister, registers: Registers) -> bool:
    return bool(registers[(bit.register_type, bit.address)] >> bit.bit & 1)


def decode(register_map: RegisterMap, registers: Registers, *, device_id: str, read_at: datetime) -> Reading:
    """The Reading a controller's registers make. A service-request bit says its level is due now:
    its remaining hours are taken as 0 at most, so the due point is raised as for a count run out."""
    fields: dict[str, Any] = {}
    remaining: dict[str, float] = {}
    for value in register_map.values:
        if value.field is None:
            continue
        number = decode_value(value, registers)
        if value.field.startswith(REMAINING_PREFIX):
            remaining[value.field.removeprefix(REMAINING_PREFIX)] = number
        elif value.field == "heartbeat":
            fields["heartbeat"] = int(number)
        else:
            fields[value.field] = number
    for request in register_map.service_requests:
        if bit_is_set(request, registers):
            remaining[request.level] = min(remaining.get(request.level, 0.0), 0.0)
    return Reading(
        device_id=device_id,
        read_at=read_at,
        remaining_hours=remaining,
        alarms=[bit.code for bit in register_map.alarms if bit_is_set(bit, registers)],
        warnings=[bit.code for bit in register_map.warnings if bit_is_set(bit, registers)],
        **fields,
    )


def informational(register_map: RegisterMap, registers: Registers) -> dict[str, float]:
    """The values the map reads that no Reading field holds (e.g. starts per hour), by name."""
    return {value.name: decode_value(value, registers) for value in register_map.values if value.field is None}
