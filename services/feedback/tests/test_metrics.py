"""Feedback's notification gauges at scrape time: pending while retried, failed once given up."""

from datetime import timedelta

from compressor_kit.testing import eventually
from compressor_kit.testing.metrics import scrape, value

NOTIFICATIONS = "compressor_feedback_notifications"


async def test_the_notification_gauges_count_pending_and_failed_as_stored(harness_for, smtp, story, test_db):
    sink, _ = smtp
    sink.refuse = True
    harness = await harness_for(delivery_max_attempts=2, management_emails="ops-manager@compressor.example")
    job = story()
    await harness.publish(job.requested())

    async def attempted(times: int) -> dict | None:
        doc = test_db.notifications.find_one({"job_id": job.job_id})
        return doc if doc and doc["attempts"] == times and doc["status"] != "sending" else None

    await eventually(lambda: attempted(1), timeout=30)
    scraped = await scrape(harness.client)
    pending = test_db.notifications.count_documents({"status": "pending"})
    assert pending >= 1
    assert value(scraped, NOTIFICATIONS, status="pending") == pending
    assert value(scraped, NOTIFICATIONS, status="failed") == 0

    harness.clock.advance(timedelta(seconds=61))
    await eventually(lambda: attempted(2), timeout=30)
    scraped = await scrape(harness.client)
    assert (
        value(scraped, NOTIFICATIONS, status="failed")
        == test_db.notifications.count_documents({"status": "failed"})
        == 1
    )
    assert value(scraped, NOTIFICATIONS, status="pending") == test_db.notifications.count_documents(
        {"status": "pending"}
    )
