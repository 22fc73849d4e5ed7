"""A running maintenance service on the real servers, driven like its clients drive it: events in
from the exchange, HTTP calls, events out on a capture queue."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from compressor_contracts import CloudEvent, new_event
from compressor_contracts.common import Engineer, IndicatorResult
from compressor_contracts.events.quality import JobInspectionFailed, JobInspectionPassed
from compressor_contracts.examples import INSPECTOR, example
from compressor_kit.clock import ManualClock
from compressor_kit.objectstore import ObjectStore
from compressor_kit.testing import eventually
from compressor_kit.testing.events import EventTap, publish_events
from compressor_kit.testing.harness import running_service
from maintenance_service.app import SERVICE
from maintenance_service.parts.domain import CATALOGUE
from maintenance_service.signatures.images import SIGNATURES

ENGINEER = "ENG-014"  # the example job's engineer
CUSTOMER = "CUST-0107"  # the example job's customer
TIMEOUT = 30


class Harness:
    def __init__(self, client, settings, tokens, db, clock: ManualClock, tap: EventTap) -> None:
        self.client = client
        self.objects = ObjectStore(settings, [SIGNATURES])
        self.tap = tap
        self.url = settings.rabbitmq_url.get_secret_value()
        self.tokens = tokens
        self.db = db
        self.clock = clock
        self.job_id = f"JOB-{uuid.uuid4().hex[:8]}"
        self.requested = new_event(
            example("job.requested.v1").model_copy(update={"job_id": self.job_id}),
            source_service="intake",
            subject=self.job_id,
        )
        self.captured: list[CloudEvent] = []

    # --- tokens -------------------------------------------------------------------------
    def auth(self, sub: str = ENGINEER, role: str = "engineer") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.mint(sub, [role])}"}

    @property
    def engineer(self) -> dict[str, str]:
        return self.auth()

    @property
    def customer(self) -> dict[str, str]:
        return self.auth(CUSTOMER, "customer")

    # --- events in ----------------------------------------------------------------------
    def event(self, key: str, *, source: str, **update) -> CloudEvent:
        data = example(key).model_copy(update={"job_id": self.job_id, **update})
        return new_event(
            data,
            source_service=source,
            subject=self.job_id,
            correlation_id=self.requested.id,
            causation_id=self.requested.id,
        )

    def assigned(self, engineer: Engineer | None = None, at: datetime | None = None) -> CloudEvent:
        event = self.event("job.assigned.v1", source="dispatch", **({"engineer": engineer} if engineer else {}))
        return event.model_copy(update={"time": at}) if at else event

    def prediagnosed(self) -> CloudEvent:
        return self.event("job.prediagnosed.v1", source="dispatch")

    def inspection_failed(self, round_: int, failed: list[IndicatorResult]) -> CloudEvent:
        data = JobInspectionFailed(
            job_id=self.job_id, round=round_, inspector=INSPECTOR, template_id="QT-OIS-VSD", failed_indicators=failed
        )
        return new_event(data, source_service="quality", subject=self.job_id, correlation_id=self.requested.id)

    def inspection_passed(self, round_: int) -> CloudEvent:
        data = example("job.inspection_passed.v1")
        data = JobInspectionPassed(
            job_id=self.job_id,
            round=round_,
            inspector=data.inspector,
            template_id=data.template_id,
            indicators=data.indicators,
        )
        return new_event(data, source_service="quality", subject=self.job_id, correlation_id=self.requested.id)

    async def publish(self, *events: CloudEvent) -> None:
        await publish_events(self.url, *events)

    async def open_work_order(self) -> None:
        # Pre-diagnosis before assignment on purpose: the order of arrival must not matter.
        await self.publish(self.requested, self.prediagnosed(), self.assigned())
        await self.wait_for_status("open")

    async def wait_for_status(self, status: str) -> dict:
        async def reached():
            doc = self.db.work_orders.find_one({"_id": self.job_id})
            return doc if doc and doc["status"] == status else None

        return await eventually(reached, timeout=TIMEOUT)

    # --- events out ---------------------------------------------------------------------
    async def published(self, count: int) -> list[CloudEvent]:
        """Wait until `count` maintenance events of this job were published in all; returns them all."""

        async def enough():
            arrived = await self.tap.rest()
            self.captured += [event for event in arrived if event.source == "/services/maintenance"]
            return len(self.captured) >= count

        await eventually(enough, timeout=TIMEOUT)
        return list(self.captured)

    def types(self) -> list[str]:
        return [e.routing_key.removeprefix("job.").removesuffix(".v1") for e in self.captured]

    # --- state --------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """Everything the service wrote (the outbox included: no row there, nothing published)."""
        state = {
            name: sorted(json.dumps(doc, default=str, sort_keys=True) for doc in self.db[name].find())
            for name in ("work_orders", "stock", "stock_movements")
        }
        # The relay marks rows published meanwhile: compare which events exist.
        state["outbox"] = sorted(doc["_id"] for doc in self.db.outbox.find({}, {"_id": 1}))
        state["signature_images"] = self.signature_images()
        return state

    def signature_images(self) -> list[str]:
        """The keys in the signatures bucket (the object store is part of what a refusal must not touch)."""
        found = self.objects.client.list_objects(self.objects.bucket(SIGNATURES), recursive=True)
        return sorted(obj.object_name for obj in found)

    def stock(self, part_number: str) -> dict:
        doc = self.db.stock.find_one({"_id": part_number})
        return {"on_hand": doc["on_hand"], "reserved": doc["reserved"]}

    @staticmethod
    def refused(response, status: int, field: str | None = None) -> dict:
        """A problem+json refusal, naming `field` when given."""
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        if field is not None:
            assert field in {e["field"] for e in body.get("errors", [])}, body
        return body

    def tick(self, minutes: float = 5) -> None:
        self.clock.advance(timedelta(minutes=minutes))


@pytest.fixture
async def service(test_settings, tokens, test_db):
    clock = ManualClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    async with running_service(SERVICE, test_settings, clock=clock, bindings=("job.#",)) as running:
        harness = Harness(running.client, test_settings, tokens, test_db, clock, running.tap)

        async def seeded():
            return test_db.stock.count_documents({}) == len(CATALOGUE)

        await eventually(seeded, timeout=TIMEOUT)
        yield harness
