"""Every event: a realistic example, a JSON round trip, an envelope that matches its payload."""

import json
from datetime import UTC, datetime

import pytest

from compressor_contracts import (
    CATALOGUE,
    PRODUCERS,
    CloudEvent,
    ContractError,
    EventData,
    JobRequested,
    new_event,
    parse_event,
)
from compressor_contracts.examples import JOB_ID, example, example_event

ROUTING_KEYS = list(CATALOGUE)


def test_catalogue_covers_every_phase_and_producer():
    phases = {cls.phase for cls in CATALOGUE.values()}
    assert set(range(1, 10)) <= phases
    assert {cls.producer for cls in CATALOGUE.values()} == set(PRODUCERS)  # the console publishes nothing


@pytest.mark.parametrize("routing_key", ROUTING_KEYS)
def test_catalogue_entry_is_consistent(routing_key):
    cls = CATALOGUE[routing_key]
    assert issubclass(cls, EventData)
    assert cls.routing_key() == routing_key == f"{cls.name}.v{cls.version}"
    assert cls.event_type() == f"com.compressorservice.{routing_key}"
    assert cls.producer in PRODUCERS
    assert cls.model_config["extra"] == "forbid"
    assert cls.__doc__, "every event is documented"
    for name, field in cls.model_fields.items():
        assert field.description, f"{routing_key}: field {name} has no description"


@pytest.mark.parametrize("routing_key", ROUTING_KEYS)
def test_every_event_round_trips_through_json(routing_key):
    event = example_event(routing_key)
    assert type(event.data) is CATALOGUE[routing_key]

    for raw in (event.to_bytes(), event.model_dump_json(), json.loads(event.model_dump_json())):
        parsed = parse_event(raw)
        assert parsed == event
        assert type(parsed.data) is CATALOGUE[routing_key]
        assert parsed.routing_key == routing_key

    assert parse_event(parse_event(event.to_bytes()).to_bytes()) == event


@pytest.mark.parametrize("routing_key", ROUTING_KEYS)
def test_example_payloads_are_fresh_valid_instances(routing_key):
    data = example(routing_key)
    assert isinstance(data, CATALOGUE[routing_key])
    assert data == example(routing_key)
    assert type(data).model_validate_json(data.model_dump_json(), strict=True) == data


def test_job_events_carry_the_job_id_as_subject():
    for routing_key, cls in CATALOGUE.items():
        event = example_event(routing_key)
        assert event.subject == getattr(event.data, cls.subject_field)
        if routing_key.startswith(("job.", "customer.", "customer_file.")):
            assert cls.subject_field == "job_id"
            assert event.subject == JOB_ID


def test_new_event_fills_the_envelope():
    data = example("job.requested.v1")
    event = new_event(data, source_service="intake", subject=data.job_id)

    assert isinstance(event, CloudEvent)
    assert event.source == "/services/intake"
    assert event.specversion == "1.0"
    assert event.type == "com.compressorservice.job.requested.v1"
    assert event.datacontenttype == "application/json"
    assert event.correlationid == event.id  # the first event of a flow correlates to itself
    assert event.causationid is None
    assert event.time.tzinfo is not None and event.time.utcoffset().total_seconds() == 0
    wire = json.loads(event.to_bytes())
    assert set(wire) == {
        "id", "source", "specversion", "type", "time", "subject",
        "datacontenttype", "correlationid", "causationid", "data",
    }  # fmt: skip


def test_new_event_propagates_correlation_and_causation():
    first = example_event("job.requested.v1")
    assigned = example("job.assigned.v1")
    event = new_event(
        assigned,
        source_service="dispatch",
        subject=assigned.job_id,
        correlation_id=first.correlationid,
        causation_id=first.id,
        time=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )
    assert event.correlationid == first.id
    assert event.causationid == first.id
    assert event.time == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert event.id != first.id


def test_new_event_refuses_a_subject_other_than_the_job_id():
    data = example("job.requested.v1")
    with pytest.raises(ContractError) as caught:
        new_event(data, source_service="intake", subject="JOB-OTHER")
    assert [e["field"] for e in caught.value.errors] == ["subject"]


def test_envelope_type_must_match_its_payload():
    wire = json.loads(example_event("job.requested.v1").to_bytes())
    with pytest.raises(ValueError, match="type"):
        CloudEvent[JobRequested].model_validate({**wire, "type": "com.compressorservice.job.cancelled.v1"})


def test_events_are_immutable():
    data = example("job.requested.v1")
    with pytest.raises(ValueError):
        data.priority = "low"
