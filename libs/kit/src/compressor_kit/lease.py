"""A lease in MongoDB: one holder at a time among a service's replicas, for work that must run once
(telemetry's one MQTT session, say). Any replica takes it over once the holder stops renewing it.

The outbox relay (relay.py) holds its lease through this class too. The expiry is written and compared
by the database server (`$$NOW`), never by a replica's clock: a replica whose clock is off can neither
take a live lease nor hold one past its end. Locally the holder only measures how long ago the server
confirmed the lease (a monotonic clock), and stops its work once that comes near the lease's length
without a renewal. Each takeover increments the lease's `generation`, a fencing token the relay checks
before it writes.

    lease = Lease(db["leases"], "mqtt-intake", seconds=15)
    if await lease.hold():   # taken or renewed; call again well within the lease to keep it
        ...
    await lease.release()    # another replica may take it at once
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # the `until` of a lease never taken: run out


class Lease:
    def __init__(self, collection: AsyncCollection[dict[str, Any]], name: str, *, seconds: float) -> None:
        self.collection = collection
        self.name = name
        self.seconds = seconds
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._confirmed_at: float | None = None  # monotonic time the server last confirmed it ours

    @property
    def held(self) -> bool:
        """Held, as far as this replica can tell: confirmed by the server less than the lease ago
        (less a margin for the round trip that confirmed it)."""
        return self._confirmed_at is not None and time.monotonic() - self._confirmed_at < self.seconds * 0.9

    async def hold(self) -> bool:
        """Take the lease if it has run out, renew it if this replica holds it; True when held now."""
        asked_at = time.monotonic()
        if await self.take_or_renew() is None:
            self._confirmed_at = None
            return False
        self._confirmed_at = asked_at
        return True

    async def take_or_renew(self) -> dict[str, Any] | None:
        """The lease as the server wrote it (holder, generation, `until` and `written_at` by its clock)
        when this replica holds it now; None when another live replica does."""
        try:
            lease = await self.collection.find_one_and_update(
                {"_id": self.name}, self._take_or_renew(), upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            return None  # another replica created it at the same moment
        return lease if lease is not None and lease.get("holder") == self.instance else None

    async def release(self) -> None:
        """Let the lease run out now, so another replica takes it at once."""
        self._confirmed_at = None
        await self.collection.update_one({"_id": self.name, "holder": self.instance}, [{"$set": {"until": "$$NOW"}}])

    def _take_or_renew(self) -> list[dict[str, Any]]:
        """Decided by the server at its own time: renew if this replica holds it and it is live, take it
        (the next generation) if it has run out, else leave it as it is."""
        me = {"$literal": self.instance}
        live = {"$gt": [{"$ifNull": ["$until", NEVER]}, "$$NOW"]}
        ours = {"$or": ["$_renew", "$_take"]}
        return [
            {"$set": {"_renew": {"$and": [{"$eq": ["$holder", me]}, live]}, "_take": {"$not": [live]}}},
            {
                "$set": {
                    "holder": {"$cond": [ours, me, "$holder"]},
                    "until": {"$cond": [ours, {"$add": ["$$NOW", int(self.seconds * 1000)]}, "$until"]},
                    "written_at": {"$cond": [ours, "$$NOW", "$written_at"]},
                    "generation": {"$cond": ["$_take", {"$add": [{"$ifNull": ["$generation", 0]}, 1]}, "$generation"]},
                }
            },
            {"$unset": ["_renew", "_take"]},
        ]


class LeaseLost(Exception):
    """The holder could not renew its lease in time: it stops the work the lease guards."""
