"""The quality service on the real servers, driven as its neighbours drive it: events in from the
exchange (playing maintenance and intake), the inspector's HTTP calls, its events out on a tap."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from litestar.testing import AsyncTestClient

from compressor_contracts import CloudEvent, new_event
from compressor_contracts.events.intake import JobCancelled
from compressor_contracts.events.maintenance import JobWorkCompleted
from compressor_contracts.events.quality import JobInspectionEscalated, JobInspectionFailed, JobInspectionPassed
from compressor_contracts.examples import example
from compressor_kit.settings import Settings
from compressor_kit.testing import eventually
from compressor_kit.testing.events import EventTap, publish_events
from compressor_kit.testing.harness import running_service
from quality_service.app import SERVICE

WAIT = 30.0  # the machine is shared: be generous


@dataclass
class Quality:
    """The quality service under test and the means to drive and observe it."""

    client: AsyncTestClient
    amqp_url: str
    db: Any
    inspector_token: str
    tap: EventTap
    """What the service publishes: passed, failed and escalated inspections."""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.inspector_token}"}

    async def publish(self, event: CloudEvent) -> None:
        await publish_events(self.amqp_url, event)

    async def work_completed(
        self, job_id: str, round_: int, *, correlation_id: str = "flow-1", **changes
    ) -> CloudEvent:
        data = example("job.work_completed.v1").model_copy(update={"job_id": job_id, "round": round_, **changes})
        event = new_event(
            JobWorkCompleted.model_validate(data.model_dump()),
            source_service="maintenance",
            subject=job_id,
            correlation_id=correlation_id,
        )
        await self.publish(event)
        return event

    async def cancelled(self, job_id: str) -> CloudEvent:
        data = example("job.cancelled.v1").model_copy(update={"job_id": job_id})
        event = new_event(JobCancelled.model_validate(data.model_dump()), source_service="intake", subject=job_id)
        await self.publish(event)
        return event

    async def handled(self, count: int) -> None:
        """Wait until the inspections queue has handled `count` distinct events."""

        async def done():
            return self.db.inbox.count_documents({}) >= count

        await eventually(done, timeout=WAIT)

    async def inspection_for(self, job_id: str, round_: int) -> dict[str, Any]:
        """Find the job's inspection the way the demo does: list by job, then read it."""

        async def listed():
            response = await self.client.get(
                "/inspections", params={"job_id": job_id, "status": "open"}, headers=self.auth
            )
            assert response.status_code == 200, response.text
            return [i for i in response.json()["items"] if i["round"] == round_]

        [summary] = await eventually(listed, timeout=WAIT)
        response = await self.client.get(f"/inspections/{summary['inspection_id']}", headers=self.auth)
        assert response.status_code == 200, response.text
        return response.json()

    async def record(self, inspection: dict[str, Any], overrides: dict[str, float] | None = None, **body):
        return await self.client.post(
            f"/inspections/{inspection['inspection_id']}/results",
            json={"measurements": readings(inspection, overrides or {}), **body},
            headers=self.auth,
        )

    async def events(self, expect: int) -> list[CloudEvent]:
        """The next `expect` events the service published."""
        return await self.tap.take(expect, timeout=WAIT)

    def outbox_rows(self) -> int:
        return self.db.outbox.count_documents({})


def readings(inspection: dict[str, Any], overrides: dict[str, float]) -> list[dict[str, Any]]:
    """A reading for every indicator of the checklist: the override, else a value exactly at a limit
    (limits are inclusive, so these pass)."""
    values = []
    for indicator in inspection["indicators"]:
        at_limit = indicator["max_limit"] if indicator["max_limit"] is not None else indicator["min_limit"]
        values.append(
            {"code": indicator["code"], "value": overrides.get(indicator["code"], at_limit), "unit": indicator["unit"]}
        )
    return values


@asynccontextmanager
async def running_quality(settings: Settings, test_db, tokens) -> AsyncIterator[Quality]:
    """The quality service on `settings`, with a tap on the events it publishes."""
    bindings = tuple(data.routing_key() for data in (JobInspectionPassed, JobInspectionFailed, JobInspectionEscalated))
    async with running_service(SERVICE, settings, bindings=bindings) as running:
        tap = running.tap
        yield Quality(
            client=running.client,
            amqp_url=running.amqp_url,
            db=test_db,
            inspector_token=tokens.mint("u-inspector-1", ["inspector"], name="Rajesh Kumar"),
            tap=tap,
        )
