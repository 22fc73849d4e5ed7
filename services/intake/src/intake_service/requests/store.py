"""Jobs in MongoDB, as intake tracks them: open until closed or cancelled."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel

from intake_service.requests.domain import OPEN

JOBS = "jobs"

INDEXES = {
    JOBS: [
        # Same Idempotency-Key, same job: concurrent retries collide here and return the first job.
        IndexModel(
            [("idempotency_key", ASCENDING)],
            name="one_job_per_idempotency_key",
            unique=True,
            partialFilterExpression={"idempotency_key": {"$exists": True}},
        ),
        # One proactive request per equipment and due period, however many scheduler runs and replicas.
        IndexModel(
            [("proactive_period", ASCENDING)],
            name="one_job_per_due_period",
            unique=True,
            partialFilterExpression={"proactive_period": {"$exists": True}},
        ),
        IndexModel(
            [("status", ASCENDING), ("priority_rank", ASCENDING), ("requested_at", ASCENDING)], name="management_view"
        ),
        IndexModel([("customer_id", ASCENDING), ("status", ASCENDING)], name="by_customer"),
    ],
}


def open_jobs_query(**filters: object) -> dict:
    return {"status": OPEN, **{k: v for k, v in filters.items() if v is not None}}
