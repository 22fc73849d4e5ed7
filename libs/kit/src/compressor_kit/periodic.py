"""Background jobs that run every so often for as long as the service runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from compressor_kit.runtime import Runtime, S

log = logging.getLogger(__name__)


def periodic(
    interval: Callable[[S], float], work: Callable[[Runtime[S]], Awaitable[Any]]
) -> Callable[[Runtime[S]], Coroutine[Any, Any, None]]:
    """A background job that runs `work(runtime)` every `interval(settings)` seconds until the service
    stops. A failed round is logged and the next one runs as usual. Work that several replicas may
    run at once must be safe to run concurrently (unique keys, conditional updates)."""

    async def job(runtime: Runtime[S]) -> None:
        while True:
            try:
                await work(runtime)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: periodic %s failed; retrying next round", runtime.name, work.__name__)
            await asyncio.sleep(interval(runtime.settings))

    job.__name__ = getattr(work, "__name__", "periodic")
    return job
