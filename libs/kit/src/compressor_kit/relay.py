"""The outbox relay: publishes committed events in order and marks them published.

A relay that dies between commit and publish leaves its events pending; the next relay (after a
restart, or another replica once the lease expires) publishes them.

Time and the lease. One relay per service holds the lease at a time (a `Lease`, lease.py). Its
expiry is written and compared by the database server (`$$NOW`), never by a replica's clock, so a
replica whose clock is minutes off can neither take a live lease nor hold one past its end. Each
takeover increments the lease's generation, a fencing token: a relay checks that it still holds its
generation before it publishes each job's events and, in the same transaction, when it marks them
published, so one that lost its lease (paused, cut off, too slow) publishes nothing more and marks
nothing. Locally the relay only measures how long ago the server confirmed its lease (`clock`, a
monotonic clock by default), and each cycle ends well within half the lease, so the holder always
renews in time.

Failing events. An event the broker refuses waits before its next attempt (`next_attempt_at`, doubling
up to a cap, computed by the server), while newer events go out; its job's later events wait behind it,
so a job's events never overtake each other. After `retry.max_attempts` failures the event is parked as
stuck (logged at ERROR with the alert `outbox_event_stuck`, counted by `outbox.stuck_count`). A broker
or database outage is not the event's fault and spends no attempts.

Parked events come back by themselves. Once an event has been parked for `retry.revive_after`
(OUTBOX_STUCK_RETRY_SECONDS, by the server's clock) the relay holding the lease puts it back to pending
with a fresh round of attempts, fenced like its other writes; it keeps its place in its job's order, and if
the round fails too it is parked and alerted again. So an event whose consumer's queue did not exist yet
(a consumer deployed after its producer) is delivered within that time of the fix without anyone acting;
an operator can release it sooner (`outbox.retry_stuck`, POST /outbox/stuck/retry, `make outbox-retry`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from opentelemetry.instrumentation.utils import suppress_instrumentation
from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession

from compressor_kit.alerts import OUTBOX_EVENT_STUCK, raise_alert
from compressor_kit.clock import Clock
from compressor_kit.lease import NEVER, Lease
from compressor_kit.outbox import LEASE, OUTBOX, PENDING, PUBLISHED, STUCK, Outbox, PendingEvent, Publish
from compressor_kit.retry import ItemRetry, is_outage

log = logging.getLogger(__name__)

T = TypeVar("T")

LEASE_ID = "relay"
STUCK_ALERT = OUTBOX_EVENT_STUCK
# Shares of the lease: publishing stops after the first, the whole cycle (marking included) ends by
# the second, which is below half, so a cycle plus the wait before the next renewal check stays in it.
PUBLISH_SHARE, CYCLE_SHARE = 0.25, 0.4
# How often, at most, the holder looks for parked events due for revival (sooner when they wait less).
REVIVAL_CHECK = timedelta(seconds=30)


class LeaseLost(Exception):
    """This relay no longer holds the lease generation it was working under: it leaves its batch to
    the relay that holds the lease now."""


class MonotonicClock:
    """Seconds since an arbitrary point, as a datetime: never steps when the wall clock is set."""

    def now(self) -> datetime:
        return NEVER + timedelta(seconds=time.monotonic())


@dataclass(frozen=True)
class HeldLease:
    generation: int
    server_time: datetime  # the server's time when it last wrote the lease
    confirmed_at: datetime  # this relay's clock just before it asked for that write
    expires_at: datetime  # this relay's clock by when the lease has surely run out

    def server_now(self, local_now: datetime) -> datetime:
        """The server's time now, from the time it gave and how much has passed since (early by at
        most one round trip)."""
        return self.server_time + (local_now - self.confirmed_at)


@dataclass(frozen=True)
class _Row:
    event: PendingEvent
    subject: str
    attempts: int


@dataclass(frozen=True)
class _InFlight:
    """A publish whose confirm did not come within its cycle."""

    row: _Row
    sending: asyncio.Future[None]
    since: datetime


def _retrieve(sending: asyncio.Future[None]) -> None:
    """Read a background publish's outcome so that asyncio never reports it as unretrieved."""
    if not sending.cancelled():
        sending.exception()


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
        retry: ItemRetry | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.outbox = outbox
        self.collection = outbox.db[OUTBOX]
        self.leases = outbox.db[LEASE]
        self.publish = publish
        self.poll_interval = poll_interval
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self.retry = retry or ItemRetry()
        self.clock: Clock = clock or MonotonicClock()
        self._lease = Lease(self.leases, LEASE_ID, seconds=lease_seconds)
        self.instance = self._lease.instance
        self.stuck_total = 0  # events this relay parked (a counter for metrics)
        self.revived_total = 0  # parked events this relay gave a fresh round of attempts
        self._next_revival_check = NEVER
        self._stopping = asyncio.Event()
        self._held: HeldLease | None = None
        self._more = False  # the last batch was cut short by its size or its time: go again at once
        self._fence_check: asyncio.Future[None] | None = None
        self._in_flight: dict[str, _InFlight] = {}  # by event id
        # Published and confirmed, but the database was away when they were to be marked: marked
        # first on the next cycle (if this relay still holds the lease), never published again by it.
        self._unmarked: list[str] = []

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                # Polling is not part of any job: keep its database calls out of the traces.
                with suppress_instrumentation():
                    if await self.acquire_lease():
                        await self.publish_pending()
                if self._more:
                    continue  # more waiting: don't sleep
            except LeaseLost:
                log.warning("outbox relay lost its lease mid-cycle; its batch is left to the new holder")
            except Exception:  # the relay must outlive broker and database outages
                log.exception("outbox relay cycle failed; retrying")
            self._more = False
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

    # The lease

    async def acquire_lease(self) -> bool:
        """Hold the relay lease, renewing it once half of it has run out.

        Renewing on every cycle would cost a database write per commit under load; a lease held
        for more than half its length cannot be taken by another replica before this one's next
        cycle renews it.
        """
        held = self._held
        if held is not None and self.clock.now() < held.expires_at - self.lease / 2:
            return True
        asked_at = self.clock.now()
        lease = await self._lease.take_or_renew()
        if lease is None:
            self._drop_lease()
            return False  # another live relay holds it
        self._held = HeldLease(
            generation=lease["generation"],
            server_time=_aware(lease["written_at"]),
            confirmed_at=asked_at,
            expires_at=asked_at + (_aware(lease["until"]) - _aware(lease["written_at"])),
        )
        return True

    def _holding(self) -> dict[str, Any]:
        """The lease as it is while this relay holds its generation, live by the server's clock."""
        if self._held is None:
            raise LeaseLost("this relay holds no lease")
        return {
            "_id": LEASE_ID,
            "holder": self.instance,
            "generation": self._held.generation,
            "$expr": {"$gt": ["$until", "$$NOW"]},
        }

    def _drop_lease(self) -> None:
        """This relay holds no lease (any more): confirms still awaited are the new holder's business
        (it publishes those events again)."""
        self._held = None
        self._in_flight.clear()

    async def release_lease(self) -> None:
        """Let the lease run out now, so another replica takes it at once (under the next generation:
        the lease is kept, never deleted, so generations only grow)."""
        self._drop_lease()
        with suppress_instrumentation():  # part of no job: keep it out of the traces, as the cycles are
            await self._lease.release()

    async def _check_fence(self) -> None:
        """Raise LeaseLost unless this relay still holds its lease generation, live. Concurrent callers
        share one read."""
        if self._fence_check is None or self._fence_check.done():
            self._fence_check = asyncio.ensure_future(self._read_fence())
        await asyncio.shield(self._fence_check)

    async def _read_fence(self) -> None:
        if await self.leases.find_one(self._holding(), {"_id": 1}) is None:
            self._drop_lease()
            raise LeaseLost("the lease was taken over or ran out")

    async def _fenced(self, write: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        """Run `write` in a transaction that commits only while this relay holds its lease generation:
        the transaction writes the lease too, so a takeover at the same moment conflicts with it."""
        async with self.outbox.client.start_session() as session:
            async with await session.start_transaction():
                confirmed = await self.leases.update_one(
                    self._holding(), [{"$set": {"fenced_at": "$$NOW"}}], session=session
                )
                if confirmed.matched_count != 1:
                    await session.abort_transaction()
                    self._drop_lease()
                    raise LeaseLost("the lease was taken over or ran out")
                return await write(session)

    # Publishing

    async def publish_pending(self) -> int:
        """Publish up to one batch of pending events, oldest first; returns how many.

        Events of one job (subject) are published one after another, in commit order; different
        jobs are published concurrently, their confirms awaited together. The cycle ends within
        CYCLE_SHARE of the lease: events not started by then wait for the next one, and a confirm not
        in by then is awaited in the background (the message may be at the broker: sending it again
        would duplicate it), its job's later events waiting behind it, for at most one lease.
        """
        if self._held is None:
            raise LeaseLost("this relay holds no lease")
        started = self.clock.now()
        publish_until = min(started + self.lease * PUBLISH_SHARE, self._held.expires_at)
        cycle_ends = min(started + self.lease * CYCLE_SHARE, self._held.expires_at)
        confirmed, failed_in_flight = self._settle_in_flight(started)
        self._unmarked += confirmed
        if self._unmarked:
            unmarked = self._unmarked
            try:
                await self._bounded(self._fenced(lambda s: self._mark_published(unmarked, s)), cycle_ends)
            except LeaseLost:
                self._unmarked = []  # the new holder publishes them again; consumers are idempotent
                raise
            self._unmarked = []
        await self._record_failures(failed_in_flight, cycle_ends)  # before they could be fetched again
        await self._revive_due_stuck(started, cycle_ends)
        published: list[str] = []
        failed: list[tuple[_Row, BaseException]] = []
        batch = await self._bounded(self._due_batch(self._held.server_now(started)), cycle_ends)
        by_job: dict[str, list[_Row]] = defaultdict(list)
        for row in batch:
            by_job[row.subject].append(row)
        cut_short = False

        async def publish_in_order(rows: list[_Row]) -> None:
            nonlocal cut_short
            await self._check_fence()
            for row in rows:
                left = (publish_until - self.clock.now()).total_seconds()
                if left <= 0:
                    cut_short = True
                    return  # out of time: the rest waits for the next cycle
                sending = asyncio.ensure_future(self.publish(row.event))
                try:
                    await asyncio.wait_for(asyncio.shield(sending), left)
                except TimeoutError:
                    self._in_flight[row.event.id] = _InFlight(row, sending, self.clock.now())
                    sending.add_done_callback(_retrieve)
                    log.warning("outbox event %s: no confirm within the cycle; awaited meanwhile", row.event.id)
                    return  # the job's later events wait behind this one
                except Exception as error:
                    failed.append((row, error))
                    return  # the job's later events wait behind this one
                published.append(row.event.id)

        results = await asyncio.gather(*(publish_in_order(rows) for rows in by_job.values()), return_exceptions=True)
        self._more = len(batch) == self.batch_size or cut_short
        if published:
            try:
                await self._bounded(self._fenced(lambda s: self._mark_published(published, s)), cycle_ends)
            except LeaseLost:
                raise  # the new holder publishes them again; consumers are idempotent
            except Exception:
                self._unmarked = published  # confirmed: marked first next cycle, not published again
                raise
        lost = [r for r in results if isinstance(r, LeaseLost)]
        if lost:
            raise lost[0]
        await self._record_failures(failed, cycle_ends)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        return len(confirmed) + len(published)

    def _settle_in_flight(self, now: datetime) -> tuple[list[str], list[tuple[_Row, BaseException]]]:
        """The background confirms that came in (ids to mark) or failed; one overdue by a whole lease
        is given up as an outage (its event stays pending and is published again)."""
        confirmed: list[str] = []
        failed: list[tuple[_Row, BaseException]] = []
        for event_id, waiting in list(self._in_flight.items()):
            if not waiting.sending.done() and now - waiting.since < self.lease:
                continue
            del self._in_flight[event_id]
            if not waiting.sending.done():
                waiting.sending.cancel()
                failed.append((waiting.row, TimeoutError(f"no confirm within {self.lease}")))
            elif waiting.sending.cancelled():
                failed.append((waiting.row, TimeoutError("the publish was cancelled")))
            elif (error := waiting.sending.exception()) is not None:
                failed.append((waiting.row, error))
            else:
                confirmed.append(event_id)
        return confirmed, failed

    async def _due_batch(self, now: datetime) -> list[_Row]:
        """The oldest pending events that are due, leaving out every job whose earliest unpublished
        event is backing off or stuck (its later events must not overtake it)."""
        held_back = await self.collection.distinct(
            "subject", {"$or": [{"status": STUCK}, {"status": PENDING, "next_attempt_at": {"$gt": now}}]}
        )
        held_back += [waiting.row.subject for waiting in self._in_flight.values()]
        cursor = (
            self.collection.find(
                {"status": PENDING, "subject": {"$nin": held_back}},
                {"routing_key": 1, "type": 1, "correlation_id": 1, "subject": 1, "body": 1, "trace": 1, "attempts": 1},
            )
            .sort([("created_at", ASCENDING), ("seq", ASCENDING)])
            .limit(self.batch_size)
        )
        return [
            _Row(
                event=PendingEvent(
                    id=doc["_id"],
                    type=doc["type"],
                    correlation_id=doc["correlation_id"],
                    routing_key=doc["routing_key"],
                    body=doc["body"],
                    trace=doc.get("trace") or {},
                ),
                subject=doc["subject"],
                attempts=doc.get("attempts", 0),
            )
            async for doc in cursor
        ]

    async def _revive_due_stuck(self, started: datetime, cycle_ends: datetime) -> None:
        """Put events parked for `retry.revive_after` back to pending with a fresh round of attempts. Only
        the lease holder does (fenced); they keep their created_at, so each job's order holds."""
        if started < self._next_revival_check:
            return
        self._next_revival_check = started + min(REVIVAL_CHECK, self.retry.revive_after)
        due_query = {"status": STUCK, "$expr": {"$lte": ["$next_attempt_at", "$$NOW"]}}
        if await self._bounded(self.collection.find_one(due_query, {"_id": 1}), cycle_ends) is None:
            return  # the usual case: one indexed read, no transaction

        async def revive(session: AsyncClientSession) -> list[dict[str, Any]]:
            due = await self.collection.find(due_query, {"type": 1, "subject": 1}, session=session).to_list()
            await self.collection.update_many(
                {"_id": {"$in": [doc["_id"] for doc in due]}, "status": STUCK},
                {
                    "$set": {"status": PENDING, "attempts": 0},
                    "$inc": {"revivals": 1},
                    "$currentDate": {"revived_at": True},
                    "$unset": {"next_attempt_at": ""},
                },
                session=session,
            )
            return due

        revived = await self._bounded(self._fenced(revive), cycle_ends)
        self.revived_total += len(revived)
        for doc in revived:
            log.warning(
                "outbox event %s %s of job %s was parked for %s: given a fresh round of %d attempts",
                doc["type"],
                doc["_id"],
                doc["subject"],
                self.retry.revive_after,
                self.retry.max_attempts,
                extra={"outbox_event_id": doc["_id"], "subject": doc["subject"]},
            )

    async def _mark_published(self, ids: list[str], session: AsyncClientSession) -> None:
        await self.collection.update_many(
            {"_id": {"$in": ids}, "status": PENDING},
            [{"$set": {"status": PUBLISHED, "published_at": "$$NOW"}}],
            session=session,
        )

    async def _record_failures(self, failed: list[tuple[_Row, BaseException]], cycle_ends: datetime) -> None:
        """Each event the broker refused backs off (or is parked); an outage raises instead, spending
        no attempts."""
        outages = [error for _, error in failed if is_outage(error)]
        refused = [(row, error) for row, error in failed if not is_outage(error)]
        if refused:

            async def back_off(session: AsyncClientSession) -> None:
                for row, error in refused:
                    await self.collection.update_one(
                        {"_id": row.event.id, "status": PENDING},
                        self._failed_attempt(row.attempts + 1, error),
                        session=session,
                    )

            await self._bounded(self._fenced(back_off), cycle_ends)
            for row, error in refused:
                attempts = row.attempts + 1
                if self.retry.exhausted(attempts):
                    self.stuck_total += 1
                    raise_alert(
                        log,
                        OUTBOX_EVENT_STUCK,
                        "outbox event stuck: %s %s of job %s parked after %d failed attempts; its job's later "
                        "events wait behind it; retried by itself in %s, or at once with make outbox-retry "
                        "once fixed; last error: %s",
                        row.event.type,
                        row.event.id,
                        row.subject,
                        attempts,
                        self.retry.revive_after,
                        _describe(error),
                        outbox_event_id=row.event.id,
                        subject=row.subject,
                    )
                else:
                    log.warning(
                        "outbox event %s %s refused (attempt %d of %d), retried in %s: %s",
                        row.event.type,
                        row.event.id,
                        attempts,
                        self.retry.max_attempts,
                        self.retry.delay(attempts),
                        _describe(error),
                    )
        if outages:
            raise outages[0]

    def _failed_attempt(self, attempts: int, error: BaseException) -> list[dict[str, Any]]:
        """The row after its `attempts`-th failure: next attempt after the backoff by the server's clock,
        or parked (stuck since now) until its revival."""
        parked = self.retry.exhausted(attempts)
        wait = self.retry.revive_after if parked else self.retry.delay(attempts)
        changes: dict[str, Any] = {
            "attempts": attempts,
            "status": STUCK if parked else PENDING,
            "next_attempt_at": {"$add": ["$$NOW", int(wait.total_seconds() * 1000)]},
            "last_error": {"$literal": _describe(error)},
            "last_attempt_at": "$$NOW",
        }
        if parked:
            changes["stuck_since"] = "$$NOW"
        return [{"$set": changes}]

    async def _bounded(self, work: Awaitable[T], deadline: datetime) -> T:
        """`work`, given until `deadline` by this relay's clock (a TimeoutError after that)."""
        return await asyncio.wait_for(work, max((deadline - self.clock.now()).total_seconds(), 0.001))


def _describe(error: BaseException) -> str:
    try:
        return repr(error)[:500]
    except Exception:  # an exception whose repr fails must not stop the relay recording it
        return type(error).__name__


def _aware(moment: datetime) -> datetime:
    """A time read from MongoDB is UTC; the client may hand it back naive."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
