"""Every service's dead letters over its own HTTP API, for admins and the `dlq-replay` client.

    GET  /dead-letters           this service's dead letters, each with why and where it failed
    POST /dead-letters/replay    {"event_ids": [...]} or {"all": true}: back to the queues that failed them

`create_app` adds both routes to every service, like the health routes. They run the AMQP functions of
`compressor_kit.deadletters` with the service's own broker user (RABBITMQ_URL): whoever replays needs
a token with the admin role, not broker credentials. A replay goes only to queues of this service's
topology; a dead letter naming another queue (or none) stays where it is and is answered as skipped.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import aio_pika
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ServiceUnavailableException
from litestar.openapi.spec import Example
from litestar.params import JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from compressor_contracts import StaffRole
from compressor_kit.auth import principal_of, requires
from compressor_kit.deadletters import DeadLetter, list_dead_letters, replay
from compressor_kit.refusals import FieldIssue, Refusal
from compressor_kit.runtime import Runtime
from compressor_kit.settings import Settings

log = logging.getLogger(__name__)

TAGS = ["Dead letters"]
MAX_LISTED = 1000
MAX_EVENT_IDS = 1000

_EXAMPLE: dict[str, Any] = {
    "event_id": "0b6f3c1e-6a57-4c2e-9d1a-8f3e2b7c4d10",
    "event_type": "com.compressorservice.job.requested.v1",
    "failed_queue": "dispatch.job-requests",
    "error_type": "RuntimeError",
    "error": "no engineer calendar loaded",
    "attempts": 5,
    "dead_lettered_at": "2026-03-10T09:14:03.512000+00:00",
}


class DeadLetterView(BaseModel):
    """One dead letter: the event, the queue that failed it, why, and after how many attempts."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    event_id: str | None = Field(description="The event's id (None for a message that is not an event).")
    event_type: str | None = Field(description="The event's type, when the body could be read.")
    failed_queue: str = Field(description="The queue whose consumer gave up on it (x-failed-queue).")
    error_type: str
    error: str
    attempts: int = Field(description="Deliveries before it was dead-lettered.")
    dead_lettered_at: str

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterView:
        return cls(
            event_id=letter.event_id,
            event_type=letter.event_type,
            failed_queue=letter.failed_queue,
            error_type=letter.error_type,
            error=letter.error,
            attempts=letter.attempts,
            dead_lettered_at=letter.dead_lettered_at,
        )


class DeadLetterList(BaseModel):
    """This service's dead letters, oldest first, left in the dead-letter queue."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"service": "dispatch", "dead_letters": [_EXAMPLE], "more": False}]}
    )

    service: str
    dead_letters: list[DeadLetterView]
    more: bool = Field(description="More dead letters wait than `limit` listed.")


EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class ReplayRequest(BaseModel):
    """Which dead letters to replay: the ones carrying these event ids, or all of them (exactly one)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"event_ids": [_EXAMPLE["event_id"]]}, {"all": True}]},
    )

    event_ids: list[EventId] | None = Field(
        default=None, max_length=MAX_EVENT_IDS, description="Event ids of the dead letters to replay."
    )
    all: bool | None = Field(default=None, description="true: replay every dead letter of this service.")


class SkippedDeadLetter(BaseModel):
    """A dead letter asked for and left in the dead-letter queue."""

    dead_letter: DeadLetterView
    reason: str


class ReplayResult(BaseModel):
    """What went back to its queue, what stayed and why, and the ids no dead letter carries."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "service": "dispatch",
                    "replayed": [_EXAMPLE],
                    "skipped": [
                        {
                            "dead_letter": {
                                **_EXAMPLE,
                                "event_id": "5d1e8a0b-2c4f-4b6d-9e8f-1a2b3c4d5e6f",
                                "failed_queue": "intake.job-requests",
                            },
                            "reason": "x-failed-queue 'intake.job-requests' is not a queue of dispatch",
                        }
                    ],
                    "not_found": ["7a0c2f4e-1b3d-4e5f-8a9b-0c1d2e3f4a5b"],
                }
            ]
        }
    )

    service: str
    replayed: list[DeadLetterView]
    skipped: list[SkippedDeadLetter]
    not_found: list[str] = Field(description="Event ids asked for that no dead letter of this service carries.")


def _chosen(data: ReplayRequest) -> list[str] | None:
    """The event ids asked for, or None for all; refuses anything but exactly one of the two fields."""
    everything = data.all is True
    if everything == (data.event_ids is not None):
        message = 'give exactly one of "event_ids" (a list of event ids) or "all": true'
        raise Refusal.invalid(message, issues=[FieldIssue("event_ids", message), FieldIssue("all", message)])
    if data.event_ids is not None and not data.event_ids:
        raise Refusal.invalid('name at least one event id (or send "all": true)', field="event_ids")
    return None if everything else data.event_ids


def _broker_unavailable(error: Exception) -> ServiceUnavailableException:
    log.warning("dead letters: broker unavailable: %r", error)
    return ServiceUnavailableException(
        detail=f"the broker is unavailable ({type(error).__name__}); dead letters not replayed stay in the "
        "dead-letter queue, retry later"
    )


BROKER_ERRORS = (aio_pika.exceptions.AMQPError, ConnectionError, OSError, asyncio.TimeoutError)


@get("/dead-letters", **requires(StaffRole.ADMIN), operation_id="listDeadLetters", tags=TAGS)
async def list_service_dead_letters(
    runtime: NamedDependency[Runtime[Settings]],
    limit: Annotated[
        int,
        Parameter(
            ge=1,
            le=MAX_LISTED,
            description=f"Dead letters to list (1-{MAX_LISTED}).",
            examples=[Example(value=200)],
        ),
    ] = 200,
) -> DeadLetterList:
    """This service's dead letters with the reason each failed; listing leaves them where they are."""
    url = runtime.settings.rabbitmq_url.get_secret_value()
    try:
        letters = await list_dead_letters(url, [runtime.name], limit=limit + 1)
    except BROKER_ERRORS as error:
        raise _broker_unavailable(error) from error
    return DeadLetterList(
        service=runtime.name, dead_letters=[DeadLetterView.of(x) for x in letters[:limit]], more=len(letters) > limit
    )


@post("/dead-letters/replay", **requires(StaffRole.ADMIN), operation_id="replayDeadLetters", tags=TAGS, status_code=200)
async def replay_service_dead_letters(
    data: JSONBody[ReplayRequest], request: Request[Any, Any, Any], runtime: NamedDependency[Runtime[Settings]]
) -> ReplayResult:
    """Re-publish the chosen dead letters to the queues that failed them (after a fix); consumers are
    idempotent, so an event already handled is not applied twice. Only to this service's own queues."""
    event_ids = _chosen(data)
    url = runtime.settings.rabbitmq_url.get_secret_value()
    known = [queue.name for queue in runtime.topology.queues]
    try:
        outcome = await replay(url, runtime.name, event_ids, known_queues=known)
    except BROKER_ERRORS as error:
        raise _broker_unavailable(error) from error
    log.info(
        "dead letters replayed by %s: %d replayed, %d skipped, %d not found",
        principal_of(request).subject,
        len(outcome.replayed),
        len(outcome.skipped),
        len(outcome.not_found),
        extra={"replayed": [x.event_id for x in outcome.replayed]},
    )
    return ReplayResult(
        service=runtime.name,
        replayed=[DeadLetterView.of(x) for x in outcome.replayed],
        skipped=[SkippedDeadLetter(dead_letter=DeadLetterView.of(s.letter), reason=s.reason) for s in outcome.skipped],
        not_found=outcome.not_found,
    )


ROUTES = [list_service_dead_letters, replay_service_dead_letters]
