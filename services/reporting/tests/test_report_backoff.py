"""Records that cannot be written do not hold newer ones back, against the real RabbitMQ, MongoDB and
object store: each backs off, is parked after its last attempt with an alert, and comes back when a
new event of its job arrives."""

import logging
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient

from compressor_kit.http import create_app
from compressor_kit.testing import eventually
from compressor_kit.testing.events import EventTap, publish_events
from reporting_service.app import SERVICE
from reporting_service.records import domain
from reporting_service.records.publisher import STUCK_ALERT

from .reporting_story import T0, Job, settings_for

REPORT_PUBLISHED = "job.report_published.v1"


def waiting_version(job_id: str, age: timedelta) -> dict:
    """Version 1 of a job's record, due, whose job's events never arrived (MissingFacts every round)."""
    record_id = domain.record_id_for(job_id)
    return {
        "_id": domain.version_id(record_id, 1),
        "record_id": record_id,
        "version": 1,
        "job_id": job_id,
        "status": domain.PENDING,
        "created_at": T0 - age,
    }


@pytest.fixture
def alerts():
    seen: list[logging.LogRecord] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if getattr(record, "alert", None) == STUCK_ALERT:
                seen.append(record)

    handler = Handler(logging.ERROR)
    logger = logging.getLogger("reporting_service.records.publisher")
    logger.addHandler(handler)
    yield seen
    logger.removeHandler(handler)


async def test_25_records_stuck_on_missing_facts_do_not_hold_back_a_newer_complete_one(test_settings, test_db, alerts):
    url = test_settings.rabbitmq_url.get_secret_value()
    settings = settings_for(
        test_settings,
        report_max_attempts=3,
        report_retry_first_delay_seconds=0.1,
        report_retry_max_delay_seconds=0.3,
    )
    waiting = [f"JOB-WAITING-{n}" for n in range(25)]  # more than one round's batch (20), all older
    test_db.records.insert_many(
        [waiting_version(job_id, timedelta(days=30, minutes=-n)) for n, job_id in enumerate(waiting)]
    )
    complete = Job("JOB-COMPLETE", rounds=1)
    app = create_app(SERVICE, settings)
    async with AsyncTestClient(app), EventTap(url, REPORT_PUBLISHED) as tap:
        await publish_events(url, *complete.build())
        [event] = await tap.take(1, timeout=30)
        assert event.subject == "JOB-COMPLETE"

        def parked() -> list[dict]:
            return list(test_db.records.find({"job_id": {"$in": waiting}, "parked_at": {"$ne": None}}))

        async def all_parked() -> bool:
            # Each alert is logged just after its version is parked: wait for both.
            return len(parked()) == 25 and len(alerts) == 25

        await eventually(all_parked, timeout=20)
        assert all(v["status"] == "pending" and v["failures"] == 3 for v in parked())  # kept, not dropped
        assert "the inspection has not passed" in parked()[0]["last_error"]
        assert sorted(a.record_version for a in alerts) == sorted(v["_id"] for v in parked())
        attempts = {v["job_id"]: v["attempts"] for v in parked()}

        # A parked version's job goes on: its events arrive, and it is published.
        await publish_events(url, *Job(waiting[0], rounds=1).build())
        [event] = await tap.take(1, timeout=30)
        assert event.subject == waiting[0]
        # The others stay parked: no round touches them any more.
        del attempts[waiting[0]]
        assert {v["job_id"]: v["attempts"] for v in parked()} == attempts
