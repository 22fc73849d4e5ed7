"""Fault injection for the fault tests, kept out of the production path.

`python -m compressor_kit.testing.faults <service> <routing key>` runs the service as
`python -m <service>_service` would, except that the process SIGKILLs itself when its outbox relay
is about to publish that event: the event's transaction has committed and nothing of it has been
published. Refuses to run unless ENVIRONMENT=test.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys

from compressor_kit.outbox import PendingEvent, Publish
from compressor_kit.serve import run

log = logging.getLogger(__name__)


def sigkill_before_publishing(routing_key: str) -> object:
    def wrap(publish: Publish) -> Publish:
        async def publish_or_die(event: PendingEvent) -> None:
            if event.routing_key == routing_key:
                log.warning("fault injection: SIGKILL before publishing %s %s", event.routing_key, event.id)
                logging.shutdown()
                os.kill(os.getpid(), signal.SIGKILL)
            await publish(event)

        return publish_or_die

    return wrap


def main(argv: list[str]) -> None:
    service, routing_key = argv
    if os.environ.get("ENVIRONMENT") != "test":
        raise SystemExit("fault injection runs only with ENVIRONMENT=test")
    definition = importlib.import_module(f"{service}_service.app").SERVICE
    run(definition, wrap_publish=sigkill_before_publishing(routing_key))  # type: ignore[arg-type]


if __name__ == "__main__":
    main(sys.argv[1:])
