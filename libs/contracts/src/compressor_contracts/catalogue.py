"""The catalogue of every event, and parsing of incoming messages against it."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_json

from compressor_contracts.envelope import WIRE_REQUIRED, CloudEvent, ContractError, EventData
from compressor_contracts.events import ALL_EVENTS

CATALOGUE: dict[str, type[EventData]] = {cls.routing_key(): cls for cls in ALL_EVENTS}
"""Every event payload class, keyed by routing key ('job.requested.v1'), in process order."""

_BY_TYPE: dict[str, type[EventData]] = {cls.event_type(): cls for cls in ALL_EVENTS}

if len(CATALOGUE) != len(ALL_EVENTS):
    raise RuntimeError("duplicate routing key in the catalogue")


def event_class(routing_key_or_type: str) -> type[EventData]:
    """The payload class for a routing key ('job.requested.v1') or an event type."""
    cls = CATALOGUE.get(routing_key_or_type) or _BY_TYPE.get(routing_key_or_type)
    if cls is None:
        raise KeyError(f"unknown event {routing_key_or_type!r}")
    return cls


def parse_event(raw: bytes | str | dict[str, Any]) -> CloudEvent[Any]:
    """Validate a received message (structured-mode CloudEvent) against the catalogue.

    Wire values are validated strictly: "5" is not an integer and unknown fields are errors; the
    `source` must be the type's producer (`check_producer`). Raises ContractError naming every wrong
    field. (Which broker user published it is the consumer's check: compressor_kit.consumer.)
    """
    if isinstance(raw, dict):
        try:
            body: bytes | str = to_json(raw)
        except Exception as exc:  # anything pydantic cannot serialise is not a JSON object
            raise ContractError([{"field": "$", "message": f"not JSON-serialisable: {exc}"}]) from None
        obj: Any = raw
    elif isinstance(raw, bytes | bytearray | str):
        body = bytes(raw) if isinstance(raw, bytearray) else raw
        try:
            obj = json.loads(body)
        except ValueError as exc:  # includes UnicodeDecodeError
            raise ContractError([{"field": "$", "message": f"not valid JSON: {exc}"}]) from None
    else:
        raise ContractError([{"field": "$", "message": f"expected bytes, str or dict, got {type(raw).__name__}"}])

    if not isinstance(obj, dict):
        raise ContractError([{"field": "$", "message": "an event must be a JSON object"}])
    event_type = obj.get("type")
    if not isinstance(event_type, str):
        message = "required field is missing" if event_type is None else "must be a string"
        raise ContractError([{"field": "type", "message": message}])
    cls = _BY_TYPE.get(event_type)
    if cls is None:
        raise ContractError([{"field": "type", "message": f"unknown event type {event_type!r}"}])

    # Without these, model defaults would invent an id or a time for a received message.
    missing = [{"field": f, "message": "required field is missing"} for f in WIRE_REQUIRED if f not in obj]
    try:
        envelope: type[CloudEvent[Any]] = CloudEvent[cls]  # type: ignore[valid-type]  # chosen at run time
        event = envelope.model_validate_json(body, strict=True)
    except ValidationError as exc:
        errors = ContractError.from_validation_error(exc).errors
        known = {e["field"] for e in errors}
        raise ContractError(
            [e for e in missing if e["field"] not in known] + errors, event_type=cls.routing_key()
        ) from None
    if missing:
        raise ContractError(missing, event_type=cls.routing_key())
    check_producer(event)
    return event


class ForgedEvent(ContractError):
    """An event that does not come from its type's producer (wrong `source`, or the consumer finds
    another broker user published it): dead-lettered at once, and never replayed."""


def producer_source(data_type: type[EventData]) -> str:
    """The CloudEvents `source` of every event of this type: its one producing service."""
    return f"/services/{data_type.producer}"


def check_producer(event: CloudEvent[Any]) -> None:
    """An event type belongs to one producer (EventData.producer): any other `source` is a forgery
    or a bug, and no consumer may act on it."""
    expected = producer_source(type(event.data))
    if event.source != expected:
        raise ForgedEvent(
            [{"field": "source", "message": f"must be {expected!r}: {event.type} is published by its producer only"}],
            event_type=event.routing_key,
        )
