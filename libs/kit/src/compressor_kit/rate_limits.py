"""Rate limits counted in MongoDB, so that every replica of a service counts against the same limit.

A limit allows `limit` attempts per `window` for one key (a machine, a reporter's address). The count
is a fixed window: one counter document per key and window, raised atomically (`$inc` with upsert) and
removed by a TTL index once the window has passed. Keys are kept as their SHA-256 (an address is
personal data; the count needs only to tell keys apart).

    allowance = await take(runtime.db, PER_MACHINE, label_id, now)
    if not allowance.allowed: answer 429 with Retry-After: allowance.retry_after_seconds
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

RATE_LIMITS = "rate_limits"

INDEXES = {RATE_LIMITS: [IndexModel([("expires_at", ASCENDING)], name="expire_windows", expireAfterSeconds=0)]}


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` attempts per `window_seconds` for each key; `name` keeps limits apart."""

    name: str
    limit: int
    window_seconds: int


@dataclass(frozen=True)
class Allowance:
    allowed: bool
    count: int
    """Attempts in this window, this one included."""
    retry_after_seconds: int
    """When refused: seconds until the window ends (at least 1)."""


def window_of(rate: RateLimit, now: datetime) -> tuple[int, datetime]:
    """(the window's number, when it ends) for `now`."""
    number = math.floor(now.timestamp() / rate.window_seconds)
    ends = datetime.fromtimestamp((number + 1) * rate.window_seconds, now.tzinfo)
    return number, ends


def counter_id(rate: RateLimit, key: str, window: int) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{rate.name}|{digest}|{window}"


async def take(db: AsyncDatabase[dict[str, Any]], rate: RateLimit, key: str, now: datetime) -> Allowance:
    """Count one attempt for `key`; allowed while the window's count stays within the limit. Refused
    attempts count too: hammering does not open the next slot sooner."""
    window, ends = window_of(rate, now)
    counter = await db[RATE_LIMITS].find_one_and_update(
        {"_id": counter_id(rate, key, window)},
        # Kept a little past the window's end: the TTL monitor only runs once a minute.
        {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": ends + timedelta(minutes=1)}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    count = int(counter["count"]) if counter else 1
    retry_after = max(1, math.ceil((ends - now).total_seconds()))
    return Allowance(allowed=count <= rate.limit, count=count, retry_after_seconds=retry_after)


async def give_back(db: AsyncDatabase[dict[str, Any]], rate: RateLimit, key: str, now: datetime) -> None:
    """Undo one counted attempt (it was refused for another reason before anything was kept)."""
    window, _ = window_of(rate, now)
    await db[RATE_LIMITS].update_one(
        {"_id": counter_id(rate, key, window), "count": {"$gt": 0}}, {"$inc": {"count": -1}}
    )
