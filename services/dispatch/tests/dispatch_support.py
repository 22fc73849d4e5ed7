"""Helpers for dispatch tests on the real servers: builders for the events other services publish,
engineers over HTTP. Tap and publish events with `compressor_kit.testing.events`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from compressor_contracts import CloudEvent, Equipment, JobRequested, Priority, Site, new_event
from compressor_contracts.examples import example
from compressor_kit.testing import eventually
from compressor_kit.testing.events import publish_events

MONDAY_8 = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday, 08:00 UTC


def bearer(tokens, sub: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.mint(sub, list(roles))}"}


def engineer_body(
    name: str,
    *,
    types=("oil_injected_screw",),
    brands=("Atlas Copco",),
    regions=("central",),
    shifts=None,
    leave=(),
    capacity=4,
    timezone="UTC",
) -> dict[str, Any]:
    return {
        "name": name,
        "skills": {"compressor_types": list(types), "brands": list(brands), "certifications": []},
        "regions": list(regions),
        "calendar": {
            "timezone": timezone,
            "shifts": shifts
            if shifts is not None
            else [{"weekday": d, "start": "08:00", "end": "17:00"} for d in range(5)],
            "leave": list(leave),
        },
        "capacity_per_day": capacity,
    }


async def create_engineer(client, headers, name: str, **kwargs) -> str:
    response = await client.post("/engineers", json=engineer_body(name, **kwargs), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["engineer_id"]


def job_requested(
    job_id: str,
    at: datetime,
    *,
    priority: Priority = Priority.HIGH,
    region: str = "central",
    brand: str = "Atlas Copco",
    compressor_type: str = "oil_injected_screw",
) -> CloudEvent:
    base = example("job.requested.v1")
    site = Site.model_validate({**base.site.model_dump(), "region": region})
    equipment = Equipment.model_validate(
        {**base.equipment.model_dump(), "brand": brand, "compressor_type": compressor_type}
    )
    data = JobRequested.model_validate(
        {**base.model_dump(), "job_id": job_id, "priority": priority, "site": site, "equipment": equipment}
    )
    return new_event(data, source_service="intake", subject=job_id, time=at)


def followed_by(cause: CloudEvent, name: str, **fields: Any) -> CloudEvent:
    """An event another service publishes about the same job (example payload, job id of the cause)."""
    data = example(name).model_copy(update={"job_id": cause.subject, **fields})
    return new_event(data, source_service=data.producer, subject=cause.subject, correlation_id=cause.correlationid)


async def outbox_flushed(test_db, *, at_least: int = 0) -> None:
    """Every event the service committed was published (with confirms, so it is in our tap)."""

    async def flushed():
        total = test_db.outbox.count_documents({})
        return total >= at_least and test_db.outbox.count_documents({"status": "pending"}) == 0

    await eventually(flushed, timeout=30)


def snapshot(test_db) -> dict[str, list]:
    """The service's data, to show a refused request changed nothing."""
    return {
        name: sorted(test_db[name].find({}), key=lambda d: str(d["_id"]))
        for name in ("jobs", "assignments", "engineer_days", "engineers", "outbox")
    }


async def assigned_job(client, headers, amqp_url, test_db, job_id: str, *, at: datetime = MONDAY_8, **request) -> str:
    """Publish job.requested for `job_id` and wait until it is assigned; returns the engineer id."""
    await publish_events(amqp_url, job_requested(job_id, at, **request))

    async def assigned():
        job = test_db.jobs.find_one({"_id": job_id, "status": "assigned"})
        return job and job["engineer"]["engineer_id"]

    return await eventually(assigned, timeout=30)
