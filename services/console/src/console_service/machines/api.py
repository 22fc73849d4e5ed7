"""A machine's page (`/equipment/{equipment_id}`): what it is, from intake's customer file, and its
controller's readings over time, from telemetry. The job page shows the same readings of its machine
through `machine_readings`.

Telemetry is called as the signed-in person, like every service: a telemetry that cannot be reached
leaves the rest of the page working, and a machine with no device or no readings says so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from compressor_kit.auth import STAFF
from console_service.calls import call, segment
from console_service.machines import domain
from console_service.pages import page
from console_service.sessions.guard import pages, session_of
from console_service.settings import ConsoleRuntime
from console_service.texts import _


@dataclass(frozen=True)
class MachineReadings:
    """What telemetry said of a machine: its devices' readings (raw JSON), or why there are none."""

    devices: list[str] = field(default_factory=list)
    readings: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None
    unavailable: bool = False


async def machine_readings(runtime: ConsoleRuntime, session: dict[str, Any], equipment_id: str) -> MachineReadings:
    """The newest readings of every device registered for the machine, as the person may see them."""
    listed = await call(runtime, session, "telemetry", "GET", "/devices", params={"equipment_id": equipment_id})
    if not listed.ok:
        return MachineReadings(problem=listed.message, unavailable=listed.unavailable)
    devices = [str(d["device_id"]) for d in (listed.data or {}).get("items") or [] if isinstance(d, dict)]
    answers = await asyncio.gather(
        *(
            call(
                runtime,
                session,
                "telemetry",
                "GET",
                f"/devices/{segment(device)}/readings",
                params={"limit": domain.READINGS_LIMIT},
            )
            for device in devices
        )
    )
    readings: list[dict[str, Any]] = []
    for answer in answers:
        if not answer.ok:
            return MachineReadings(devices, problem=answer.message, unavailable=answer.unavailable)
        readings.extend(r for r in (answer.data or {}).get("readings") or [] if isinstance(r, dict))
    return MachineReadings(devices, readings)


def readings_view(
    found: MachineReadings,
    attached: list[dict[str, Any]] | None = None,
    marked_at: datetime | None = None,
) -> dict[str, Any]:
    """The template's `readings` section: telemetry's readings and those a request carried, as one."""
    shown = domain.show(
        domain.readings_of(attached or [], found.readings), marked_at=marked_at, marked_label=_("Job requested")
    )
    return {"shown": shown, "found": found, "attached": len(attached or [])}


async def job_readings(
    runtime: ConsoleRuntime, session: dict[str, Any], row: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The readings section of a job's pages from its board row: those its request carried and its
    machine's from telemetry; None when the row names no machine and carries none."""
    if not row:
        return None
    attached = row.get("machine_readings")
    if row.get("equipment_id"):
        found = await machine_readings(runtime, session, str(row["equipment_id"]))
    elif attached:
        found = MachineReadings()
    else:
        return None
    view = readings_view(found, attached, row.get("requested_at"))
    view["equipment_id"] = row.get("equipment_id")
    return view


@get("/equipment/{equipment_id:str}", **pages(*STAFF))
async def machine_page(
    request: Request[Any, Any, Any], equipment_id: FromPath[str], runtime: NamedDependency[ConsoleRuntime]
) -> Response[str]:
    """One machine and its controller's readings over time, with limits and alarms marked."""
    session = session_of(request)
    unit, found = await asyncio.gather(
        call(runtime, session, "intake", "GET", f"/equipment/{segment(equipment_id)}"),
        machine_readings(runtime, session, equipment_id),
    )
    if unit.refused and unit.status == 404 and not found.devices:
        return page(
            "message.html",
            status_code=404,
            session=session,
            title=_("No such machine"),
            message=_("There is no machine %(id)s on file.", id=equipment_id),
        )
    return page(
        "machine.html",
        session=session,
        equipment_id=equipment_id,
        unit=unit.data if unit.ok and isinstance(unit.data, dict) else None,
        unit_problem=None if unit.ok else unit.message,
        readings=readings_view(found),
    )


ROUTES = [machine_page]
