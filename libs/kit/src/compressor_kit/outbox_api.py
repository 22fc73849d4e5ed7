"""Every service's stuck outbox events over its own HTTP API, for admins and the `dlq-replay` client.

    GET  /outbox/stuck          events this service's relay parked after failing every attempt, and why
    POST /outbox/stuck/retry    {"event_ids": [...]} or {"all": true}: back to pending, a fresh round now

`create_app` adds both routes to every service, next to the dead-letter routes. The relay gives a parked
event a fresh round by itself after OUTBOX_STUCK_RETRY_SECONDS; these routes let an operator see what is
parked and, once its cause is fixed, release it at once. A released event keeps its place in its job's
order. The command line (`python -m compressor_kit.outbox_stuck`, `make outbox-stuck`,
`make outbox-retry`) is a client of these routes.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Example
from litestar.params import JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from compressor_contracts import StaffRole
from compressor_kit.auth import principal_of, requires
from compressor_kit.outbox import StuckEvent, list_stuck, retry_stuck
from compressor_kit.refusals import FieldIssue, Refusal
from compressor_kit.runtime import Runtime
from compressor_kit.settings import Settings

log = logging.getLogger(__name__)

TAGS = ["Outbox"]
MAX_LISTED = 1000
MAX_EVENT_IDS = 1000

_EXAMPLE: dict[str, Any] = {
    "event_id": "0b6f3c1e-6a57-4c2e-9d1a-8f3e2b7c4d10",
    "event_type": "com.compressorservice.job.requested.v1",
    "job_id": "JOB-2026-000123",
    "attempts": 10,
    "last_error": "<PublishError: Message delivery failed: Basic.Return(reply_code=312, reply_text='NO_ROUTE')>",
    "stuck_since": "2026-03-10T09:14:03.512000Z",
    "retried_by_itself_at": "2026-03-10T10:14:03.512000Z",
    "revivals": 0,
}


class StuckEventView(BaseModel):
    """One parked event: which, of which job, after how many attempts, why, and since when."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    event_id: str
    event_type: str
    job_id: str = Field(description="The event's subject: its job's later events wait behind it.")
    attempts: int = Field(description="Failed attempts of its last round.")
    last_error: str = Field(description="Why the broker refused it the last time.")
    stuck_since: datetime | None = Field(description="When it was parked.")
    retried_by_itself_at: datetime | None = Field(
        description="When the relay gives it a fresh round of attempts by itself (OUTBOX_STUCK_RETRY_SECONDS)."
    )
    revivals: int = Field(description="Fresh rounds it has had already, each of which failed.")

    @classmethod
    def of(cls, event: StuckEvent) -> StuckEventView:
        return cls(
            event_id=event.id,
            event_type=event.type,
            job_id=event.subject,
            attempts=event.attempts,
            last_error=event.last_error,
            stuck_since=event.stuck_since,
            retried_by_itself_at=event.revives_at,
            revivals=event.revivals,
        )


class StuckEventList(BaseModel):
    """This service's parked outbox events, oldest first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"service": "intake", "stuck": [_EXAMPLE], "more": False}]}
    )

    service: str
    stuck: list[StuckEventView]
    more: bool = Field(description="More events are parked than `limit` listed.")


EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RetryStuckRequest(BaseModel):
    """Which parked events to release: these event ids, or all of them (exactly one)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"event_ids": [_EXAMPLE["event_id"]]}, {"all": True}]},
    )

    event_ids: list[EventId] | None = Field(
        default=None, max_length=MAX_EVENT_IDS, description="Ids of the parked events to release."
    )
    all: bool | None = Field(default=None, description="true: release every parked event of this service.")


class RetryStuckResult(BaseModel):
    """How many parked events went back to pending, and the ids asked for that are not parked."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"service": "intake", "retried": 1, "not_found": ["7a0c2f4e-1b3d-4e5f-8a9b-0c1d2e3f4a5b"]}]
        }
    )

    service: str
    retried: int = Field(description="Events put back to pending with a fresh round of attempts.")
    not_found: list[str] = Field(
        description="Event ids asked for that are not parked (unknown, published, or already pending again)."
    )


def _chosen(data: RetryStuckRequest) -> list[str] | None:
    """The event ids asked for, or None for all; refuses anything but exactly one of the two fields."""
    everything = data.all is True
    if everything == (data.event_ids is not None):
        message = 'give exactly one of "event_ids" (a list of event ids) or "all": true'
        raise Refusal.invalid(message, issues=[FieldIssue("event_ids", message), FieldIssue("all", message)])
    if data.event_ids is not None and not data.event_ids:
        raise Refusal.invalid('name at least one event id (or send "all": true)', field="event_ids")
    return None if everything else data.event_ids


@get("/outbox/stuck", **requires(StaffRole.ADMIN), operation_id="listStuckOutboxEvents", tags=TAGS)
async def list_stuck_events(
    runtime: NamedDependency[Runtime[Settings]],
    limit: Annotated[
        int,
        Parameter(ge=1, le=MAX_LISTED, description=f"Events to list (1-{MAX_LISTED}).", examples=[Example(value=200)]),
    ] = 200,
) -> StuckEventList:
    """The events this service's outbox relay parked after failing every attempt, with the last error;
    each holds its job's later events back until it is published."""
    events = await list_stuck(runtime.db, limit=limit + 1)
    return StuckEventList(
        service=runtime.name, stuck=[StuckEventView.of(x) for x in events[:limit]], more=len(events) > limit
    )


@post(
    "/outbox/stuck/retry",
    **requires(StaffRole.ADMIN),
    operation_id="retryStuckOutboxEvents",
    tags=TAGS,
    status_code=200,
)
async def retry_stuck_events(
    data: JSONBody[RetryStuckRequest], request: Request[Any, Any, Any], runtime: NamedDependency[Runtime[Settings]]
) -> RetryStuckResult:
    """Put the chosen parked events back to pending with a fresh round of attempts now (once their cause is
    fixed), rather than when the relay would retry them by itself; each keeps its place in its job's order."""
    event_ids = _chosen(data)
    not_found: list[str] = []
    if event_ids is not None:
        parked = {event.id for event in await list_stuck(runtime.db, event_ids)}
        not_found = sorted(set(event_ids) - parked)
    retried = await retry_stuck(runtime.db, event_ids)
    if retried:
        runtime.outbox.committed.set()  # wake the relay: the released events are due now
    log.info(
        "stuck outbox events released by %s: %d retried, %d not found",
        principal_of(request).subject,
        retried,
        len(not_found),
        extra={"event_ids": event_ids},
    )
    return RetryStuckResult(service=runtime.name, retried=retried, not_found=not_found)


ROUTES = [list_stuck_events, retry_stuck_events]
