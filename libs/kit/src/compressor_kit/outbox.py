"""Transactional outbox: a state change and the events it causes commit together.

`Outbox.transact(work)` runs `work(uow)` in one MongoDB transaction; every `uow.publish(...)`
writes the event into the service's `outbox` collection inside that same transaction. The
`OutboxRelay` then publishes pending events in commit order with publisher confirms and marks
them published. A relay that dies between commit and publish leaves its events pending; the
next relay (after a restart, or another replica once the lease expires) publishes them. A
crash after publish but before marking can publish an event twice: consumers are idempotent
(see `consumer.py`), so the effect is exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from opentelemetry.instrumentation.utils import suppress_instrumentation
from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from compressor_contracts import CloudEvent, EventData, new_event
from compressor_kit.job_trace import JobTraces

log = logging.getLogger(__name__)

T = TypeVar("T")

OUTBOX = "outbox"
LEASE = "outbox_lease"
PENDING, PUBLISHED = "pending", "published"
KEEP_PUBLISHED = timedelta(days=7)

OUTBOX_INDEXES = {
    OUTBOX: [
        IndexModel([("status", ASCENDING), ("created_at", ASCENDING), ("seq", ASCENDING)], name="pending_in_order"),
        # Published rows are only kept for inspection; pending rows have no published_at and never expire.
        IndexModel(
            [("published_at", ASCENDING)],
            name="expire_published",
            expireAfterSeconds=int(KEEP_PUBLISHED.total_seconds()),
        ),
    ],
}


@dataclass
class UnitOfWork:
    """What one transaction may touch: the service database (with the session) and the outbox."""

    db: AsyncDatabase[Any]
    session: AsyncClientSession
    service: str
    job_traces: JobTraces
    events: list[CloudEvent[Any]] = field(default_factory=list)
    last_writes: list[Callable[[], Awaitable[object]]] = field(default_factory=list)

    def write_last(self, write: Callable[[], Awaitable[object]]) -> None:
        """Run `write` at the end of the transaction, just before it commits.

        For documents many transactions update at once (stock levels, counters): a write conflict
        on them aborts and retries the whole transaction, and the shorter the time a transaction
        holds such a document, the fewer conflicts. An error raised by `write` aborts the transaction.
        """
        self.last_writes.append(write)

    async def publish(
        self,
        data: EventData,
        *,
        cause: CloudEvent[Any] | None = None,
        correlation_id: str | None = None,
    ) -> CloudEvent[Any]:
        """Record an event to publish once this transaction commits (subject: the data's job id)."""
        event = new_event(
            data,
            source_service=self.service,
            subject=data.subject(),
            correlation_id=cause.correlationid if cause else correlation_id,
            causation_id=cause.id if cause else None,
        )
        await self.db[OUTBOX].insert_one(
            {
                "_id": event.id,
                "seq": len(self.events),
                "created_at": datetime.now(UTC),
                "routing_key": data.routing_key(),
                "type": event.type,
                "correlation_id": event.correlationid,
                "subject": event.subject,
                "body": event.model_dump_json(),
                "trace": await self.job_traces.carrier_for(self.session, event.subject),
                "status": PENDING,
                "attempts": 0,
            },
            session=self.session,
        )
        self.events.append(event)
        return event


class Outbox:
    def __init__(
        self, client: AsyncMongoClient[dict[str, Any]], db: AsyncDatabase[dict[str, Any]], service: str
    ) -> None:
        self.client = client
        self.db = db
        self.service = service
        self.job_traces = JobTraces(db)
        self.committed = asyncio.Event()  # wakes the relay as soon as something commits

    async def transact(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run `work` in one transaction (retried by the driver on transient errors)."""
        last: UnitOfWork | None = None

        async def attempt(session: AsyncClientSession) -> T:
            nonlocal last
            last = UnitOfWork(db=self.db, session=session, service=self.service, job_traces=self.job_traces)
            result = await work(last)
            for write in last.last_writes:
                await write()
            return result

        async with self.client.start_session() as session:
            result = await session.with_transaction(attempt)
        if last is not None and last.events:
            self.committed.set()  # only a commit that wrote events gives the relay work
        return result


@dataclass(frozen=True)
class PendingEvent:
    id: str
    type: str
    correlation_id: str
    routing_key: str
    body: str
    trace: dict[str, str]


Publish = Callable[[PendingEvent], Awaitable[None]]


class OutboxRelay:
    """Publishes committed events in order. One relay per service holds the lease at a time,
    which keeps the publish order and lets any replica take over when the holder dies."""

    def __init__(
        self,
        outbox: Outbox,
        publish: Publish,
        *,
        poll_interval: float = 0.5,
        lease_seconds: float = 10.0,
        batch_size: int = 200,
    ) -> None:
        self.outbox = outbox
        self.collection = outbox.db[OUTBOX]
        self.leases = outbox.db[LEASE]
        self.publish = publish
        self.poll_interval = poll_interval
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stopping = asyncio.Event()
        self._held_until: datetime | None = None
        # Published and confirmed, but the database was away when they were to be marked: marked
        # first on the next cycle, never published again by this relay.
        self._unmarked: list[str] = []

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                # Polling is not part of any job: keep its database calls out of the traces.
                with suppress_instrumentation():
                    published = await self.publish_pending() if await self.acquire_lease() else 0
                if published == self.batch_size:
                    continue  # more waiting: don't sleep
            except Exception:  # the relay must outlive broker and database outages
                log.exception("outbox relay cycle failed; retrying")
            await self._wait()

    def stop(self) -> None:
        self._stopping.set()
        self.outbox.committed.set()

    async def _wait(self) -> None:
        try:
            await asyncio.wait_for(self.outbox.committed.wait(), self.poll_interval)
        except TimeoutError:
            pass
        self.outbox.committed.clear()

    async def acquire_lease(self) -> bool:
        """Hold the relay lease, renewing it once half of it has run out.

        Renewing on every cycle would cost a database write per commit under load; a lease held
        for more than half its length cannot be taken by another replica before this one's next
        cycle renews it.
        """
        now = datetime.now(UTC)
        if self._held_until is not None and now < self._held_until - self.lease / 2:
            return True
        try:
            await self.leases.find_one_and_update(
                {"_id": "relay", "$or": [{"holder": self.instance}, {"until": {"$lt": now}}]},
                {"$set": {"holder": self.instance, "until": now + self.lease}},
                upsert=True,
            )
        except DuplicateKeyError:
            self._held_until = None
            return False  # another live relay holds it
        self._held_until = now + self.lease
        return True

    async def release_lease(self) -> None:
        self._held_until = None
        await self.leases.delete_one({"_id": "relay", "holder": self.instance})

    async def publish_pending(self) -> int:
        """Publish up to one batch of pending events, oldest first; returns how many.

        Events of one job (subject) are published one after another, in commit order; different
        jobs are published concurrently, their confirms awaited together.
        """
        if self._unmarked:
            await self._mark_published(self._unmarked)
            self._unmarked = []
        cursor = (
            self.collection.find(
                {"status": PENDING},
                {"routing_key": 1, "type": 1, "correlation_id": 1, "subject": 1, "body": 1, "trace": 1},
            )
            .sort([("created_at", ASCENDING), ("seq", ASCENDING)])
            .limit(self.batch_size)
        )
        by_job: dict[str, list[PendingEvent]] = defaultdict(list)
        async for doc in cursor:
            by_job[doc["subject"]].append(
                PendingEvent(
                    id=doc["_id"],
                    type=doc["type"],
                    correlation_id=doc["correlation_id"],
                    routing_key=doc["routing_key"],
                    body=doc["body"],
                    trace=doc.get("trace") or {},
                )
            )
        published: list[str] = []

        async def publish_in_order(events: list[PendingEvent]) -> None:
            for event in events:
                await self.publish(event)
                published.append(event.id)

        results = await asyncio.gather(
            *(publish_in_order(events) for events in by_job.values()), return_exceptions=True
        )
        if published:
            try:
                await self._mark_published(published)
            except Exception:
                self._unmarked = published
                raise
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            done = set(published)
            unpublished = [e.id for events in by_job.values() for e in events if e.id not in done]
            await self.collection.update_many(
                {"_id": {"$in": unpublished}}, {"$inc": {"attempts": 1}, "$set": {"last_error": repr(errors[0])[:500]}}
            )
            raise errors[0]
        return len(published)

    async def _mark_published(self, ids: list[str]) -> None:
        await self.collection.update_many(
            {"_id": {"$in": ids}}, {"$set": {"status": PUBLISHED, "published_at": datetime.now(UTC)}}
        )


async def pending_count(db: AsyncDatabase[dict[str, Any]]) -> int:
    return await db[OUTBOX].count_documents({"status": PENDING})
