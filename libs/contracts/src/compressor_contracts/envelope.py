"""The CloudEvents 1.0 envelope every event travels in, and the base of every payload."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar
from uuid import uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from compressor_contracts.common import ContractModel, Identifier

EVENT_TYPE_PREFIX = "com.compressorservice"
# Structured mode: the whole envelope is the AMQP body.
CONTENT_TYPE = "application/cloudevents+json"
# W3C trace context travels in the AMQP headers, not in the envelope.
TRACEPARENT_HEADER = "traceparent"
TRACESTATE_HEADER = "tracestate"
# Defaults exist for producers (new_event); a received message must carry them all.
WIRE_REQUIRED = ("id", "source", "specversion", "type", "time", "subject", "correlationid", "data")


class EventData(ContractModel):
    """Base of every event payload (the envelope's `data`).

    Subclasses set the class variables; `routing_key()` and `event_type()` derive from them.
    """

    name: ClassVar[str]
    """Event name, past tense, e.g. 'job.requested'."""
    version: ClassVar[int] = 1
    producer: ClassVar[str]
    """The only service that publishes this event."""
    phase: ClassVar[int | None]
    """Process phase (1-9) the event belongs to; None for events that can happen in any phase."""
    subject_field: ClassVar[str] = "job_id"
    """The data field whose value is the envelope subject."""

    @classmethod
    def routing_key(cls) -> str:
        return f"{cls.name}.v{cls.version}"

    @classmethod
    def event_type(cls) -> str:
        return f"{EVENT_TYPE_PREFIX}.{cls.routing_key()}"

    def subject(self) -> str:
        return str(getattr(self, self.subject_field))


class JobEventData(EventData):
    """Base of every event about one job; the envelope subject is the job id."""

    job_id: Identifier = Field(description="The job this event is about; equal to the envelope subject.")


DataT = TypeVar("DataT", bound=EventData)


class CloudEvent(BaseModel, Generic[DataT]):
    """A CloudEvents 1.0 event in structured JSON mode, carrying one typed payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        default_factory=lambda: str(uuid4()),
        min_length=1,
        max_length=128,
        description="Unique event id (UUID v4); with source, the idempotency key. Also the AMQP message_id.",
    )
    source: str = Field(
        pattern=r"^/services/[a-z][a-z0-9-]*$",
        max_length=100,
        description="The emitting service, e.g. '/services/intake'.",
    )
    specversion: Literal["1.0"] = Field(default="1.0", description="CloudEvents version.")
    type: str = Field(
        pattern=r"^com\.compressorservice\.[a-z_]+(\.[a-z_]+)+\.v[1-9][0-9]*$",
        max_length=150,
        description="Reverse-DNS event type with version suffix, e.g. 'com.compressorservice.job.requested.v1'.",
    )
    time: AwareDatetime = Field(
        default_factory=lambda: datetime.now(UTC),
        description="When the fact happened (RFC 3339, with offset; producers use UTC).",
    )
    subject: str = Field(
        min_length=1,
        max_length=64,
        description="The job id (for backup events, the backup id); equals the payload's job_id/backup_id.",
    )
    datacontenttype: Literal["application/json"] = Field(default="application/json", description="Media type of data.")
    correlationid: str = Field(
        min_length=1,
        max_length=128,
        description="Id shared by every event of one flow: the id of the event that started it "
        "(for a job, its job.requested event).",
    )
    causationid: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Id of the event that directly caused this one; null when a person or a timer caused it.",
    )
    data: DataT = Field(description="The event payload; its schema depends on type.")

    @model_validator(mode="after")
    def _matches_data(self) -> Self:
        # Only a parametrised envelope knows which payload it carries.
        if not hasattr(type(self.data), "name"):
            return self
        problems = []
        if self.type != self.data.event_type():
            problems.append(("type", f"must be {self.data.event_type()!r} for this payload", self.type))
        if self.subject != self.data.subject():
            field = f"data.{self.data.subject_field}"
            problems.append(("subject", f"must equal {field} ({self.data.subject()!r})", self.subject))
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(type=PydanticCustomError("envelope_mismatch", message), loc=(field,), input=value)
                    for field, message, value in problems
                ],
            )
        return self

    @property
    def routing_key(self) -> str:
        return self.data.routing_key()

    def to_bytes(self) -> bytes:
        """The AMQP body (content type application/cloudevents+json)."""
        return self.model_dump_json().encode()


class ContractError(ValueError):
    """A message or payload that breaks the contract.

    `errors` lists every problem as {"field": dotted path such as "data.priority", "message": ...};
    the string form names every field.
    """

    def __init__(self, errors: list[dict[str, str]], *, event_type: str | None = None) -> None:
        self.errors = errors
        self.event_type = event_type
        what = f"invalid event {event_type}" if event_type else "invalid event"
        details = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(f"{what}: {details}")

    @classmethod
    def from_validation_error(cls, exc: ValidationError, *, event_type: str | None = None) -> ContractError:
        return cls([_describe(err) for err in exc.errors()], event_type=event_type)


_FRIENDLY = {"extra_forbidden": "unknown field", "missing": "required field is missing"}


def _describe(err: Any) -> dict[str, str]:
    field = ".".join(str(part) for part in err["loc"]) or "$"
    return {"field": field, "message": _FRIENDLY.get(err["type"], err["msg"])}


def new_event(
    data: EventData,
    *,
    source_service: str,
    subject: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent[Any]:
    """Wrap a payload in a new envelope.

    correlation_id defaults to the new event's own id (the event starts a flow); pass the
    triggering event's correlationid and id when reacting to an event. `time` defaults to now (UTC).
    """
    event_id = str(uuid4())
    fields: dict[str, Any] = {
        "id": event_id,
        "source": f"/services/{source_service}",
        "type": data.event_type(),
        "subject": subject,
        "correlationid": correlation_id or event_id,
        "causationid": causation_id,
        "data": data,
    }
    if time is not None:
        fields["time"] = time
    try:
        envelope: type[CloudEvent[Any]] = CloudEvent[type(data)]  # type: ignore[misc,assignment]  # chosen at run time
        return envelope(**fields)
    except ValidationError as exc:
        raise ContractError.from_validation_error(exc, event_type=data.routing_key()) from None
