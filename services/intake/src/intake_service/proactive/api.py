"""Run the proactive maintenance scheduler now (it also runs on its own every interval)."""

from __future__ import annotations

from typing import Any

from litestar import post
from litestar.di import NamedDependency

from compressor_kit.auth import requires
from compressor_kit.runtime import Runtime
from intake_service.actors import MANAGEMENT
from intake_service.proactive.scheduler import raise_due_requests


@post("/proactive/runs", **requires(*MANAGEMENT), operation_id="runProactiveScheduler", status_code=200)
async def run_proactive_scheduler(runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    """Look for equipment due for service now and raise the proactive requests not raised yet.
    Returns how many units are due and the jobs this run raised."""
    result = await raise_due_requests(runtime)
    return {"due": result.due, "raised": result.raised}


ROUTES = [run_proactive_scheduler]
