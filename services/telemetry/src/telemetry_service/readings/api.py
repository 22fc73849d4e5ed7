"""HTTP API of readings: a device's readings over time (the console's charts), an uploaded export from a
maker's portal, and what was rejected and why."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Annotated, Any

from litestar import get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, Parameter
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts.common import Identifier
from compressor_kit.auth import requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.refusals import Refusal
from telemetry_service.devices import store as devices
from telemetry_service.readings import store as readings
from telemetry_service.readings.domain import Reading, RejectionReason
from telemetry_service.readings.intake import Arrival, take_in_all
from telemetry_service.roles import MANAGEMENT, STAFF
from telemetry_service.settings import TelemetryRuntime

READING_TAGS = ["Readings"]
MAX_UPLOAD_BYTES = 5_000_000
MAX_UPLOAD_ROWS = 20_000
UPLOAD_BATCH = 500  # rows judged in one transaction

READING_EXAMPLE: dict[str, Any] = {
    "device_id": "DEV-7781-GW1",
    "read_at": "2026-11-30T08:00:00Z",
    "running_hours": 25860.8,
    "loaded_hours": 21205.9,
    "remaining_hours": {"A": 139.2},
    "discharge_pressure_bar": 7.4,
    "element_outlet_temperature_c": 88.5,
    "alarms": [],
    "warnings": [],
}


class ReadingsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"device_id": "DEV-7781-GW1", "equipment_id": "EQ-7781", "readings": [READING_EXAMPLE]}]
        }
    )

    device_id: Identifier
    equipment_id: Identifier
    readings: list[Reading] = Field(description="Oldest first.")


@get("/devices/{device_id:str}/readings", **requires(*STAFF), operation_id="ListDeviceReadings", tags=READING_TAGS)
async def device_readings(
    device_id: FromPath[str],
    runtime: NamedDependency[TelemetryRuntime],
    since: Annotated[datetime | None, Parameter(description="From this time on.")] = None,
    until: Annotated[datetime | None, Parameter(description="Up to this time.")] = None,
    limit: Annotated[int, Parameter(ge=1, le=2000, description="At most this many, the newest.")] = 500,
) -> ReadingsOut:
    """A device's readings over time, for charts and the remote pre-diagnosis."""
    device = await devices.load(runtime, device_id)
    if device is None:
        raise Refusal.not_found(f"no device {device_id}", field="device_id")
    found = await readings.recent_readings(runtime, device_id, since=since, until=until, limit=limit)
    return ReadingsOut(device_id=device_id, equipment_id=device.equipment_id, readings=list(reversed(found)))


class UploadOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accepted": 1438,
                    "rejected": {"duplicate": 2, "out_of_range": 1},
                    "due_raised": ["EQ-7781:A:2026-03-03:26000"],
                }
            ]
        }
    )

    accepted: int
    rejected: dict[str, int] = Field(description="Rejected rows by reason.")
    due_raised: list[str] = Field(description="Due points this upload raised.")


class ExportUpload(BaseModel):
    """The multipart form: the export file in the part named `data`, nothing else."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    data: UploadFile = Field(
        description="The export: a JSON list of readings, or CSV with a header row and one reading a row.",
        json_schema_extra={"maxLength": MAX_UPLOAD_BYTES},
    )


@post("/readings/uploads", **requires(*MANAGEMENT), operation_id="UploadReadings", tags=READING_TAGS, status_code=200)
async def upload_readings(
    data: Annotated[ExportUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    runtime: NamedDependency[TelemetryRuntime],
) -> UploadOut:
    """Take in an export from a maker's cloud portal (a JSON list of readings, or CSV with one reading a
    row), for sites with no gateway. Each row is judged on its own; bad rows are counted, not fatal."""
    export = data.data
    content = await export.read()
    if len(content) > MAX_UPLOAD_BYTES:
        raise Refusal.invalid(f"the file is larger than {MAX_UPLOAD_BYTES} bytes", field="data")
    rows = _rows(export.filename or "", content)
    if len(rows) > MAX_UPLOAD_ROWS:
        raise Refusal.invalid(f"the file has more than {MAX_UPLOAD_ROWS} readings", field="data")
    result = UploadOut(accepted=0, rejected={}, due_raised=[])
    arrivals = [Arrival(row, "upload") for row in sorted(rows, key=_read_at_of)]
    outcomes = []
    for start in range(0, len(arrivals), UPLOAD_BATCH):
        outcomes.extend(await take_in_all(runtime, arrivals[start : start + UPLOAD_BATCH]))
    for outcome in outcomes:
        if outcome.accepted:
            result.accepted += 1
            result.due_raised.extend(outcome.due_raised)
        elif outcome.reason is not None:
            result.rejected[outcome.reason] = result.rejected.get(outcome.reason, 0) + 1
    return result


def _rows(filename: str, content: bytes) -> list[Any]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Refusal.invalid("the file is not UTF-8 text", field="data") from None
    if filename.lower().endswith(".json") or text.lstrip().startswith(("[", "{")):
        try:
            parsed = json.loads(text)
        except ValueError as error:
            raise Refusal.invalid(f"the file is not valid JSON: {error}", field="data") from None
        rows = parsed.get("readings") if isinstance(parsed, dict) else parsed
        if not isinstance(rows, list):
            raise Refusal.invalid("expected a list of readings, or an object with 'readings'", field="data")
        return rows
    return [_csv_row(row) for row in csv.DictReader(io.StringIO(text))]


def _csv_row(row: dict[str, str | None]) -> dict[str, Any]:
    """A CSV row as a reading: empty cells left out, `remaining_hours_<level>` columns gathered,
    `alarms`/`warnings` split on ';'."""
    reading: dict[str, Any] = {}
    remaining: dict[str, str] = {}
    for name, value in row.items():
        if name is None or value is None or value.strip() == "":
            continue
        name, value = name.strip(), value.strip()
        if name.startswith("remaining_hours_"):
            remaining[name.removeprefix("remaining_hours_")] = value
        elif name in ("alarms", "warnings"):
            reading[name] = [code.strip() for code in value.split(";") if code.strip()]
        else:
            reading[name] = value
    if remaining:
        reading["remaining_hours"] = remaining
    return reading


def _read_at_of(row: object) -> str:
    # Oldest first, so the counters are judged in the order they were read; malformed rows sort first.
    return str(row.get("read_at", "")) if isinstance(row, dict) else ""


class RejectionOut(BaseModel):
    reason: RejectionReason
    detail: str
    field: str | None
    device_id: str | None
    source: str
    payload: str
    received_at: datetime


class RejectionsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "counts": {"out_of_range": 1},
                    "page": {
                        "items": [
                            {
                                "reason": "out_of_range",
                                "detail": "element_outlet_temperature_c 900.0 is outside -40..200",
                                "field": "element_outlet_temperature_c",
                                "device_id": "DEV-7781-GW1",
                                "source": "mqtt",
                                "payload": '{"device_id": "DEV-7781-GW1", "element_outlet_temperature_c": 900}',
                                "received_at": "2026-11-30T08:00:02Z",
                            }
                        ],
                        "total": 1,
                        "limit": 50,
                        "offset": 0,
                    },
                }
            ]
        }
    )

    counts: dict[str, int] = Field(description="Rejections kept, by reason.")
    page: Page[RejectionOut]


@get("/readings/rejections", **requires(*MANAGEMENT), operation_id="ListRejectedReadings", tags=READING_TAGS)
async def list_rejections(
    runtime: NamedDependency[TelemetryRuntime],
    reason: Annotated[RejectionReason | None, Parameter(description="Only this reason.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> RejectionsOut:
    """Readings not taken in, newest first, each with its reason: what an admin checks when a gateway
    misbehaves."""
    items, total = await readings.rejections(runtime, reason=reason, limit=limit, offset=offset)
    page = Page(items=[RejectionOut.model_validate(doc) for doc in items], total=total, limit=limit, offset=offset)
    return RejectionsOut(counts=await readings.rejection_counts(runtime), page=page)


ROUTES = [device_readings, upload_readings, list_rejections]
