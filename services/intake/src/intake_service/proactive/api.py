"""Run the proactive maintenance scheduler now (it also runs on its own every interval)."""

from __future__ import annotations

from litestar import post
from litestar.di import NamedDependency
from pydantic import BaseModel, ConfigDict, Field

from compressor_kit.auth import requires
from intake_service.actors import MANAGEMENT
from intake_service.proactive.scheduler import raise_due_requests
from intake_service.settings import IntakeRuntime


class ProactiveRun(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"due": 3, "raised": ["JOB-8C1D2E3F4A5B"]}]})

    due: int = Field(description="Units due for service and follow-up visits due, raised now or earlier.")
    raised: list[str] = Field(description="Job ids of the requests this run raised.")


@post(
    "/proactive/runs",
    **requires(*MANAGEMENT),
    operation_id="runProactiveScheduler",
    tags=["Proactive maintenance"],
    status_code=200,
)
async def run_proactive_scheduler(runtime: NamedDependency[IntakeRuntime]) -> ProactiveRun:
    """Look for equipment due for service now and raise the proactive requests not raised yet.
    Returns how many units are due and the jobs this run raised."""
    result = await raise_due_requests(runtime)
    return ProactiveRun(due=result.due, raised=result.raised)


ROUTES = [run_proactive_scheduler]
