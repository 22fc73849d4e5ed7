"""HTTP API of Modbus polling: how each controller's last polls went, for an admin."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import Parameter
from pydantic import BaseModel, ConfigDict, Field

from compressor_kit.auth import requires
from compressor_kit.pagination import Limit, Offset, Page
from telemetry_service.modbus import store
from telemetry_service.roles import MANAGEMENT
from telemetry_service.settings import TelemetryRuntime


class PollOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "device_id": "DEV-7781-MB",
                    "family": "elektronikon",
                    "polled_at": "2026-12-01T09:00:00Z",
                    "answered_at": "2026-12-01T08:57:00Z",
                    "failures_in_a_row": 3,
                    "failures": 5,
                    "error": "ControllerSilent: no connection to 10.20.1.15:502",
                }
            ]
        }
    )

    device_id: str
    family: str
    polled_at: datetime
    answered_at: datetime | None = Field(description="The last poll the controller answered.")
    failures_in_a_row: int = Field(description="Polls not answered since the last answer.")
    failures: int = Field(description="Polls not answered in all.")
    error: str | None = Field(description="Why the last poll failed, if it did.")


@get("/modbus/polls", **requires(*MANAGEMENT), operation_id="ListModbusPolls", tags=["Devices"])
async def list_polls(
    runtime: NamedDependency[TelemetryRuntime],
    failing: Annotated[bool, Parameter(description="Only controllers whose last poll failed.")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[PollOut]:
    """Each polled controller's last poll, the longest failing first: what an admin checks when a
    controller or a site's network stops answering."""
    docs, total = await store.polls(runtime, failing=failing, limit=limit, offset=offset)
    items = [
        PollOut(
            device_id=doc["_id"],
            family=doc.get("family", ""),
            polled_at=doc["polled_at"],
            answered_at=doc.get("answered_at"),
            failures_in_a_row=doc.get("failures_in_a_row", 0),
            failures=doc.get("failures", 0),
            error=doc.get("error"),
        )
        for doc in docs
    ]
    return Page(items=items, total=total, limit=limit, offset=offset)


ROUTES = [list_polls]
