"""Retention: MongoDB's TTL monitor deletes feedback's settled notifications (they hold contact details),
parked events that never met their job, and job trace contexts, after their documented time. Checked on
the indexes the running service creates in the real MongoDB."""

from litestar.testing import AsyncTestClient

from compressor_kit.http import create_app
from feedback_service.app import SERVICE

DAY = 24 * 3600


async def test_the_service_creates_the_documented_ttl_indexes(test_db, feedback_settings_for):
    async with AsyncTestClient(create_app(SERVICE, feedback_settings_for())) as client:
        assert (await client.get("/health/ready")).status_code == 200
    notifications = test_db.notifications.index_information()["expire_settled"]
    parked = test_db.parked_events.index_information()["expire_parked"]
    traces = test_db.job_traces.index_information()["expire"]

    # 180 days after creation, only once delivered, failed, withdrawn or undeliverable: never while pending.
    assert notifications["key"] == [("created_at", 1)] and notifications["expireAfterSeconds"] == 180 * DAY
    assert notifications["partialFilterExpression"] == {
        "status": {"$in": ["delivered", "failed", "withdrawn", "undeliverable"]}
    }
    assert parked["key"] == [("parked_at", 1)] and parked["expireAfterSeconds"] == 90 * DAY
    assert traces["key"] == [("created_at", 1)] and traces["expireAfterSeconds"] == 365 * DAY
