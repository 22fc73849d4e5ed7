"""Reporting's backup age gauge at scrape time: +Inf before the first backup, then the newest completed one's age."""

import math
from datetime import UTC, datetime, timedelta

from litestar.testing import AsyncTestClient

from compressor_kit.http import create_app
from compressor_kit.testing.metrics import scrape, value
from reporting_service.app import SERVICE

from .reporting_story import settings_for

AGE = "compressor_reporting_last_backup_age_seconds"


async def test_the_last_backup_age_is_the_newest_completed_backups(test_settings, test_db):
    app = create_app(SERVICE, settings_for(test_settings))
    async with AsyncTestClient(app) as client:
        assert value(await scrape(client), AGE) == math.inf  # no backup yet: an age alert fires
        now = datetime.now(UTC)
        test_db.backups.insert_many(
            [
                {
                    "_id": "BK-older",
                    "status": "completed",
                    "started_at": now - timedelta(days=2),
                    "completed_at": now - timedelta(days=2),
                },
                {
                    "_id": "BK-newest",
                    "status": "completed",
                    "started_at": now - timedelta(hours=1, minutes=5),
                    "completed_at": now - timedelta(hours=1),
                },
                {"_id": "BK-failed", "status": "failed", "started_at": now - timedelta(minutes=5)},
            ]
        )
        age = value(await scrape(client), AGE)
    assert 3600 <= age < 3600 + 30
