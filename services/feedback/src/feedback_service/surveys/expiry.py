"""The periodic job that expires unanswered surveys past their time (which may close their jobs)."""

from __future__ import annotations

from feedback_service.surveys.domain import SurveyState
from feedback_service.surveys.store import SURVEYS, expire

BATCH = 200


async def expire_due_surveys(runtime) -> int:
    now = runtime.clock.now()
    due = runtime.db[SURVEYS].find(
        {"status": SurveyState.OPEN.value, "expires_at": {"$lte": now}}, {"_id": 1}, limit=BATCH
    )
    expired = 0
    async for survey in due:
        # One transaction per survey; the conditional update makes concurrent replicas harmless.
        if await runtime.outbox.transact(lambda uow, sid=survey["_id"]: expire(uow, sid, now)):
            expired += 1
    return expired
