"""`python -m <service>`: one process serves HTTP and consumes events."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

from compressor_kit.http import create_app
from compressor_kit.logs import configure_logging
from compressor_kit.outbox import Publish
from compressor_kit.runtime import ServiceDefinition

log = logging.getLogger(__name__)


def run(definition: ServiceDefinition[Any], *, wrap_publish: Callable[[Publish], Publish] | None = None) -> None:
    """`python -m <service>`: serve HTTP and consume events in this one process."""
    settings = definition.settings_from(None)
    configure_logging(definition.name, settings.log_level)
    try:
        settings.check_production()
    except RuntimeError as exc:
        # Said once, plainly, before anything is served or connected; a non-zero exit for the supervisor.
        log.critical("%s: %s", definition.name, exc)
        raise SystemExit(2) from None
    app = create_app(definition, settings, wrap_publish=wrap_publish)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port or definition.default_port,
        log_config=None,  # keep our JSON logging
        lifespan="on",
        timeout_graceful_shutdown=10,
        # Longer than clients keep idle connections (httpx: 5 s), so the server never closes one
        # at the moment a client reuses it (which the client sees as a failed request).
        timeout_keep_alive=75,
    )
    DrainingServer(config).run()


class DrainingServer(uvicorn.Server):
    """Uvicorn's server that, on SIGTERM or SIGINT, first tells the running service it is draining
    (`Runtime.draining`): uvicorn then waits for open responses, and event streams end at their next tick."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        app = self.config.app
        runtime = getattr(getattr(app, "state", None), "runtime", None)
        if runtime is not None:
            runtime.draining = True
        super().handle_exit(sig, frame)
