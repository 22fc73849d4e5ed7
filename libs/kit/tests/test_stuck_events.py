"""Stuck outbox events, against the real MongoDB, RabbitMQ and identity provider: the relay gives a parked
event a fresh round of attempts by itself (OUTBOX_STUCK_RETRY_SECONDS, shortened here), alerting again if
it fails again, so it is delivered once its consumer's queue exists without anyone acting; admins list
and release parked events over every service's API (GET /outbox/stuck, POST /outbox/stuck/retry), and
`python -m compressor_kit.outbox_stuck` (`make outbox-stuck`, `make outbox-retry`) does so as its client."""

import asyncio
import logging
from typing import Any

import pytest

from compressor_contracts import CloudEvent
from compressor_kit.outbox import UnitOfWork, stuck_count
from compressor_kit.relay import STUCK_ALERT
from compressor_kit.settings import Settings
from compressor_kit.testing import eventually

from .test_returned_events import INTAKE, dispatch, request_job, running

REVIVE_AFTER = 1.5


@pytest.fixture
def parks_fast(test_settings: Settings, database_prefix: str) -> Settings:
    """One database per service, a relay that parks an event after 2 quick refusals, and revives it
    after REVIVE_AFTER seconds (an hour by default)."""
    return test_settings.model_copy(
        update={
            "mongodb_database": "",
            "mongodb_database_prefix": database_prefix,
            "outbox_poll_interval_seconds": 0.05,
            "outbox_max_attempts": 2,
            "outbox_retry_first_delay_seconds": 0.05,
            "outbox_retry_max_delay_seconds": 0.1,
            "outbox_stuck_retry_seconds": REVIVE_AFTER,
        }
    )


@pytest.fixture
def stuck_alerts():
    seen: list[logging.LogRecord] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if getattr(record, "alert", None) == STUCK_ALERT:
                seen.append(record)

    handler = Handler(logging.ERROR)
    logger = logging.getLogger("compressor_kit.relay")
    logger.addHandler(handler)
    yield seen
    logger.removeHandler(handler)


async def test_a_parked_event_is_tried_again_by_itself_and_delivered_once_its_consumer_queue_exists(
    parks_fast, stuck_alerts
):
    handled: list[str] = []

    async def assign(event: CloudEvent[Any], uow: UnitOfWork) -> None:
        handled.append(event.id)

    # Intake runs; dispatch, which consumes job.requested, is not deployed yet: no queue takes the event.
    async with running(INTAKE, parks_fast) as intake:
        outbox = intake.db.outbox
        first = await request_job(intake, "JOB-EARLY")
        second = await request_job(intake, "JOB-EARLY")  # the same job's next event, behind it

        async def parked() -> dict[str, Any] | None:
            return await outbox.find_one({"_id": first, "status": "stuck"})

        row = await eventually(parked, timeout=10)
        assert row["attempts"] == 2 and "PublishError" in row["last_error"] and "stuck_since" in row
        assert len(stuck_alerts) == 1
        parked_at = asyncio.get_running_loop().time()

        # Its round comes again by itself, fails again (still no queue), and is parked and alerted again.
        async def parked_again() -> dict[str, Any] | None:
            return await outbox.find_one({"_id": first, "status": "stuck", "revivals": 1})

        await eventually(parked_again, timeout=10)
        assert asyncio.get_running_loop().time() - parked_at >= REVIVE_AFTER * 0.9  # not before its time
        assert len(stuck_alerts) == 2
        assert (await outbox.find_one({"_id": second}))["status"] == "pending"  # never overtook it

        # Dispatch is deployed: its start-up declares its queue. Nobody releases the event; the relay's
        # next revival delivers it, then the job's next event, in order.
        async with running(dispatch(assign), parks_fast):

            async def both_handled() -> bool:
                return handled == [first, second]

            await eventually(both_handled, timeout=REVIVE_AFTER * 2 + 10)

            async def both_marked() -> bool:
                return await outbox.count_documents({"_id": {"$in": [first, second]}, "status": "published"}) == 2

            await eventually(both_marked, timeout=10)
        assert await stuck_count(intake.db) == 0
        assert intake.relay.revived_total >= 2
