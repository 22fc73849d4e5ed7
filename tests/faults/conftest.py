"""Shared by the fault tests: an isolated deployment of the six services, the job's expected events."""

from __future__ import annotations

from collections import Counter

import pytest

from compressor_kit.testing.mail import mail_server
from demo.flow import EVENTS_OF_ONE_JOB

EXPECTED = EVENTS_OF_ONE_JOB

# Fast timers for the stack: relays poll often, leases of dead relays expire quickly.
STACK_ENV = {
    "OUTBOX_POLL_INTERVAL_SECONDS": "0.2",
    "OUTBOX_LEASE_SECONDS": "2",
    "REPORT_PUBLISH_INTERVAL_SECONDS": "0.5",
    "DELIVERY_INTERVAL_SECONDS": "0.5",
}


@pytest.fixture
def smtp_port():
    """A local mail sink for feedback's e-mails; yields its port."""
    with mail_server() as (_, port):
        yield port


async def assert_every_event_once(watcher, job_id: str, *, redelivery_possible: bool = False) -> None:
    """The job's whole flow of events arrived at the integration, each exactly once and valid.

    `redelivery_possible`: the broker went away while a relay waited for a publisher confirm, so the
    relay rightly published that event again (at-least-once; same event id, which every consumer
    dedupes on). Then an event may arrive twice with the same id, but no event may be missing and no
    action may have produced two different events."""
    await watcher.wait_for(job_id, "customer_file.updated.v1", timeout=60)
    await watcher.wait_for(job_id, "job.survey_sent.v1", timeout=60)
    events = watcher.of_job(job_id)
    assert not watcher.invalid, watcher.invalid
    ids = Counter(e.id for e in events)
    twice = [(e.type, e.id) for e in events if ids[e.id] > 1]
    if redelivery_possible:
        events = list({e.id: e for e in events}.values())
    else:
        assert not twice, f"delivered twice: {twice}"
    counts = Counter(e.data.routing_key() for e in events)
    for routing_key, expected in EXPECTED.items():
        assert counts[routing_key] == expected, (routing_key, counts)
    assert set(counts) <= set(EXPECTED) | {"customer.notified.v1"}, counts


def assert_filed_once(result) -> None:
    """The customer file holds the job once, with both inspection rounds."""
    history = [h for site in result.customer_file["sites"] for unit in site["equipment"] for h in unit["history"]]
    assert [h["job_id"] for h in history] == [result.job_id]
    assert history[0]["inspection_rounds"] == 2
