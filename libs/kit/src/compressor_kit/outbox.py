"""Transactional outbox: a state change and the events it causes commit together.

`Outbox.transact(work)` runs `work(uow)` in one MongoDB transaction; every `uow.publish(...)`
writes the event into the service's `outbox` collection inside that same transaction. The
`OutboxRelay` (relay.py) then publishes pending events in commit order with publisher confirms and marks
them published. A relay that dies between commit and publish leaves its events pending; the
next relay (after a restart, or another replica once the lease expires) publishes them. A
crash after publish but before marking can publish an event twice: consumers are idempotent
(see `consumer.py`), so the effect is exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pymongo
from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ExecutionTimeout, PyMongoError

from compressor_contracts import CloudEvent, EventData, JobEventData, new_event
from compressor_kit.job_trace import JobTraces
from compressor_kit.mongo import DatabaseUnavailable, unavailable
from compressor_kit.telemetry import current_trace_carrier

log = logging.getLogger(__name__)

T = TypeVar("T")

OUTBOX = "outbox"
LEASE = "outbox_lease"
# A row is pending until published; one that failed `max_attempts` times is parked as stuck (still
# visible and counted, see `stuck_count`) and holds its job's later events back until `retry_stuck` or
# the relay's own retry after OUTBOX_STUCK_RETRY_SECONDS (relay.py) puts it back to pending.
PENDING, PUBLISHED, STUCK = "pending", "published", "stuck"
KEEP_PUBLISHED = timedelta(days=7)
# Long enough to ride through a primary election (about 12 s at MongoDB's defaults) and write
# conflicts under load; short enough that a caller hears of an outage while it still waits.
TRANSACTION_TIME_LIMIT_SECONDS = 15.0
# A commit sent whose outcome is unknown is asked again for as long as with_transaction would have.
COMMIT_OUTCOME_LIMIT_SECONDS = 120.0
COMMIT_RETRY_PAUSE_SECONDS = 0.5
UNKNOWN_COMMIT = "UnknownTransactionCommitResult"

OUTBOX_INDEXES = {
    OUTBOX: [
        IndexModel([("status", ASCENDING), ("created_at", ASCENDING), ("seq", ASCENDING)], name="pending_in_order"),
        # The rows waiting out a backoff (next_attempt_at in the future): few, and found without a scan.
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="backing_off"),
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
        row = {
            "seq": len(self.events),
            "routing_key": data.routing_key(),
            "type": event.type,
            "correlation_id": event.correlationid,
            "subject": event.subject,
            "body": event.model_dump_json(),
            # An event about a job continues the job's trace; any other (a machine's, a backup's) its own.
            "trace": await self.job_traces.carrier_for(self.session, event.subject)
            if isinstance(data, JobEventData)
            else current_trace_carrier(),
            "status": PENDING,
            "attempts": 0,
        }
        # created_at, which orders the relay's publishing, is the database server's time: a replica
        # whose clock runs ahead would otherwise let the job's next event, committed by another
        # replica after this one, overtake it.
        await self.db[OUTBOX].update_one(
            {"_id": event.id},
            [{"$set": {**{name: {"$literal": value} for name, value in row.items()}, "created_at": "$$NOW"}}],
            upsert=True,
            session=self.session,
        )
        self.events.append(event)
        return event


class Outbox:
    def __init__(
        self,
        client: AsyncMongoClient[dict[str, Any]],
        db: AsyncDatabase[dict[str, Any]],
        service: str,
        *,
        time_limit: float = TRANSACTION_TIME_LIMIT_SECONDS,
    ) -> None:
        self.client = client
        self.db = db
        self.service = service
        self.time_limit = time_limit
        self.job_traces = JobTraces(db)
        self.committed = asyncio.Event()  # wakes the relay as soon as something commits

    async def transact(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run `work` in one transaction, retried by the driver on transient errors (write conflicts,
        a primary election) for at most `time_limit` seconds.

        Raises DatabaseUnavailable when MongoDB gave no primary within that time: an HTTP write then
        answers 503 promptly, and a consumer holds its event (delivery.py) instead of failing it. Without
        the limit, `with_transaction` keeps retrying for 120 s. The limit is the driver's own
        client-side operation timeout (`pymongo.timeout`), so it also bounds every operation inside.
        One case waits longer: a commit sent whose outcome is unknown (MongoDB went away meanwhile) is
        asked again until it is known (`_settle_commit`), since "nothing was written" would be a guess.
        """
        last: UnitOfWork | None = None
        returned: list[T] = []

        async def attempt(session: AsyncClientSession) -> T:
            nonlocal last
            last = UnitOfWork(db=self.db, session=session, service=self.service, job_traces=self.job_traces)
            result = await work(last)
            for write in last.last_writes:
                await write()
            returned[:] = [result]
            return result

        async with self.client.start_session() as session:
            try:
                with pymongo.timeout(self.time_limit):
                    result = await session.with_transaction(attempt)
            except PyMongoError as error:
                if _commit_outcome_unknown(error):
                    await _settle_commit(session, error)
                    result = returned[0]
                elif isinstance(error, ExecutionTimeout) and (
                    unavailable(error.__cause__ or error) or not self.client.topology_description.has_writable_server()
                ):
                    # with_transaction turned the last transient error into a timeout once the limit was
                    # spent: that error was MongoDB's absence (not contention); or the time went waiting
                    # for a primary (a restarted mongod listens before it is elected) and there is still
                    # none. A primary that is there but slow still spends the event's attempt.
                    raise DatabaseUnavailable(f"no MongoDB primary within {self.time_limit:g}s: {error}") from error
                else:
                    raise
        if last is not None and last.events:
            self.committed.set()  # only a commit that wrote events gives the relay work
        return result


def _commit_outcome_unknown(error: BaseException) -> bool:
    """Whether `error` (or the error a timeout wraps) left a sent commit's outcome unknown."""
    causes = [error, error.__cause__]
    return any(isinstance(e, PyMongoError) and e.has_error_label(UNKNOWN_COMMIT) for e in causes)


async def _settle_commit(session: AsyncClientSession, error: PyMongoError) -> None:
    """Ask again for a commit whose outcome is unknown until it is known (MongoDB commits a transaction
    at most once however often it is asked), for up to COMMIT_OUTCOME_LIMIT_SECONDS. Returns once
    committed; raises when it was not (or is still unknown at the limit)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + COMMIT_OUTCOME_LIMIT_SECONDS
    log.warning("a commit's outcome is unknown (%s: %.200s); asking again", type(error).__name__, error)
    while True:
        try:
            await session.commit_transaction()
            return
        except PyMongoError as again:
            if again.has_error_label("TransientTransactionError"):  # not committed (e.g. lost in a restart)
                raise DatabaseUnavailable(f"the transaction was not committed: {again}") from again
            if not _commit_outcome_unknown(again) or loop.time() > deadline:
                if unavailable(again):
                    raise DatabaseUnavailable(f"a commit's outcome stayed unknown: {again}") from again
                raise
        await asyncio.sleep(COMMIT_RETRY_PAUSE_SECONDS)


@dataclass(frozen=True)
class PendingEvent:
    id: str
    type: str
    correlation_id: str
    routing_key: str
    body: str
    trace: dict[str, str]


Publish = Callable[[PendingEvent], Awaitable[None]]


async def pending_count(db: AsyncDatabase[dict[str, Any]]) -> int:
    return await db[OUTBOX].count_documents({"status": PENDING})


async def oldest_pending_age_seconds(db: AsyncDatabase[dict[str, Any]]) -> float:
    """How long the oldest pending event has waited (0 when none), by the database server's clock, which
    also wrote its created_at: one index read (pending_in_order)."""
    cursor = await db[OUTBOX].aggregate(
        [
            {"$match": {"status": PENDING}},
            {"$sort": {"created_at": ASCENDING}},
            {"$limit": 1},
            {"$project": {"_id": 0, "age_ms": {"$subtract": ["$$NOW", "$created_at"]}}},
        ]
    )
    oldest = await cursor.to_list(1)
    return max(float(oldest[0]["age_ms"]) / 1000, 0.0) if oldest else 0.0


async def stuck_count(db: AsyncDatabase[dict[str, Any]]) -> int:
    """Events parked after failing every attempt (a gauge to alert on: anything above 0 needs a person)."""
    return await db[OUTBOX].count_documents({"status": STUCK})


async def retry_stuck(db: AsyncDatabase[dict[str, Any]], ids: list[str] | None = None) -> int:
    """Put parked events (these, or all) back to pending with a fresh attempt budget, once their cause is
    fixed; returns how many."""
    query: dict[str, Any] = {"status": STUCK}
    if ids is not None:
        query["_id"] = {"$in": ids}
    result = await db[OUTBOX].update_many(
        query, {"$set": {"status": PENDING, "attempts": 0}, "$unset": {"next_attempt_at": ""}}
    )
    return result.modified_count


@dataclass(frozen=True)
class StuckEvent:
    """An event parked after failing every attempt of its round, and why."""

    id: str
    type: str
    subject: str
    attempts: int
    last_error: str
    stuck_since: datetime | None
    revives_at: datetime | None  # when the relay gives it a fresh round by itself
    revivals: int  # fresh rounds it has had so far


async def list_stuck(
    db: AsyncDatabase[dict[str, Any]], ids: list[str] | None = None, *, limit: int | None = None
) -> list[StuckEvent]:
    """The parked events (these, or all; at most `limit`), oldest first."""
    query: dict[str, Any] = {"status": STUCK}
    if ids is not None:
        query["_id"] = {"$in": ids}
    cursor = db[OUTBOX].find(query, {"body": 0, "trace": 0}).sort([("created_at", ASCENDING), ("seq", ASCENDING)])
    if limit is not None:
        cursor = cursor.limit(limit)
    return [
        StuckEvent(
            id=doc["_id"],
            type=doc["type"],
            subject=doc["subject"],
            attempts=doc.get("attempts", 0),
            last_error=doc.get("last_error", ""),
            stuck_since=_utc(doc.get("stuck_since") or doc.get("last_attempt_at")),
            revives_at=_utc(doc.get("next_attempt_at")),
            revivals=doc.get("revivals", 0),
        )
        async for doc in cursor
    ]


def _utc(moment: datetime | None) -> datetime | None:
    """A time read from MongoDB is UTC; the client may hand it back naive."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
