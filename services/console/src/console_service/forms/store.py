"""Where used form keys live (`form_submissions`): claimed before acting, settled with the result, kept a
day (TTL on `expires_at`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from console_service.settings import ConsoleRuntime

SUBMISSIONS = "form_submissions"
KEPT = timedelta(days=1)

INDEXES = {
    SUBMISSIONS: [IndexModel([("expires_at", ASCENDING)], name="expire_submissions", expireAfterSeconds=0)],
}


async def claim(runtime: ConsoleRuntime, key: str, subject: str) -> bool:
    """True when this submission is the first with `key`."""
    now = datetime.now(UTC)
    try:
        await runtime.db[SUBMISSIONS].insert_one(
            {"_id": key, "subject": subject, "result": None, "at": now, "expires_at": now + KEPT}
        )
    except DuplicateKeyError:
        return False
    return True


async def settle(runtime: ConsoleRuntime, key: str, result: str) -> None:
    await runtime.db[SUBMISSIONS].update_one({"_id": key}, {"$set": {"result": result}})


async def release(runtime: ConsoleRuntime, key: str) -> None:
    await runtime.db[SUBMISSIONS].delete_one({"_id": key, "result": None})


async def claim_of(runtime: ConsoleRuntime, key: str) -> dict[str, Any] | None:
    return await runtime.db[SUBMISSIONS].find_one({"_id": key})
