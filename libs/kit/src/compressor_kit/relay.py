"""The outbox relay: publishes committed events in order and marks them published.

A relay that dies between commit and publish leaves its events pending; the next relay (after a
restart, or another replica once the lease expires) publishes them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from opentelemetry.instrumentation.utils import suppress_instrumentation
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from compressor_kit.outbox import LEASE, OUTBOX, PENDING, PUBLISHED, Outbox, PendingEvent, Publish

log = logging.getLogger(__name__)


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
