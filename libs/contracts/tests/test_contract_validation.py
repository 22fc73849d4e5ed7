"""Invalid messages are refused with every wrong field named."""

import json

import pytest

from compressor_contracts import CATALOGUE, SERVICES, ContractError, parse_event
from compressor_contracts.examples import example_event


def wire(routing_key: str) -> dict:
    return json.loads(example_event(routing_key).to_bytes())


def refused(raw) -> ContractError:
    with pytest.raises(ContractError) as caught:
        parse_event(raw)
    assert isinstance(caught.value, ValueError)
    for error in caught.value.errors:
        assert error["field"] in str(caught.value)
    return caught.value


def fields(error: ContractError) -> list[str]:
    return [e["field"] for e in error.errors]


def test_wrong_type_in_data_is_named():
    message = wire("job.requested.v1")
    message["data"]["priority"] = "urgent"
    message["data"]["equipment"]["running_hours"] = "23410"  # a string is not an integer on the wire
    error = refused(json.dumps(message))
    assert fields(error) == ["data.priority", "data.equipment.running_hours"]
    assert "invalid event job.requested.v1" in str(error)


def test_unknown_field_in_data_is_named():
    message = wire("job.diagnosed.v1")
    message["data"]["measurements"][1]["accuracy"] = 0.5
    message["data"]["colour"] = "red"
    error = refused(json.dumps(message).encode())
    assert sorted(fields(error)) == ["data.colour", "data.measurements.1.accuracy"]
    assert all(e["message"] == "unknown field" for e in error.errors)


def test_unknown_field_in_envelope_is_named():
    message = wire("job.assigned.v1")
    message["partitionkey"] = "x"
    assert fields(refused(message)) == ["partitionkey"]


def test_unknown_event_type_is_refused():
    message = wire("job.assigned.v1")
    message["type"] = "com.compressorservice.job.teleported.v1"
    error = refused(message)
    assert fields(error) == ["type"]
    assert "job.teleported" in str(error)


def test_unknown_version_is_refused():
    message = wire("job.assigned.v1")
    message["type"] = "com.compressorservice.job.assigned.v2"
    assert fields(refused(message)) == ["type"]


@pytest.mark.parametrize("csat", [0, 6])
def test_csat_out_of_range_is_refused(csat):
    message = wire("job.feedback_received.v1")
    message["data"]["csat"] = csat
    assert fields(refused(message)) == ["data.csat"]


@pytest.mark.parametrize("nps", [-1, 11])
def test_nps_out_of_range_is_refused(nps):
    message = wire("job.feedback_received.v1")
    message["data"]["nps"] = nps
    assert fields(refused(message)) == ["data.nps"]


def test_naive_datetime_is_refused():
    message = wire("job.engineer_arrived.v1")
    message["data"]["arrived_at"] = "2026-03-02T12:15:00"
    message["time"] = "2026-03-02T12:15:00"
    assert sorted(fields(refused(message))) == ["data.arrived_at", "time"]


def test_missing_envelope_attributes_are_not_invented():
    message = wire("job.requested.v1")
    del message["id"], message["time"], message["correlationid"]
    assert sorted(fields(refused(message))) == ["correlationid", "id", "time"]


def test_subject_must_be_the_job_id():
    message = wire("job.requested.v1")
    message["subject"] = "JOB-OTHER"
    assert fields(refused(message)) == ["subject"]


def test_cross_field_rules_are_enforced():
    message = wire("job.prediagnosed.v1")
    commitment = message["data"]["commitment"]
    commitment["arrive_by"], commitment["resolve_by"] = commitment["resolve_by"], commitment["arrive_by"]
    assert fields(refused(message)) == ["data.commitment"]

    message = wire("job.inspection_failed.v1")
    message["data"]["failed_indicators"][0]["passed"] = True
    assert fields(refused(message)) == ["data"]


@pytest.mark.parametrize("raw", [b"{not json", "[]", b"\xff\xfe", 42, "null"])
def test_malformed_messages_are_refused(raw):
    assert fields(refused(raw)) == ["$"]


def test_missing_type_is_refused():
    message = wire("job.requested.v1")
    del message["type"]
    assert fields(refused(message)) == ["type"]


def test_an_event_from_another_service_than_its_producer_is_refused():
    message = wire("job.inspection_passed.v1")
    message["source"] = "/services/maintenance"  # quality alone decides that an inspection passed
    error = refused(message)
    assert fields(error) == ["source"]
    assert "'/services/quality'" in str(error) and "invalid event job.inspection_passed.v1" in str(error)


@pytest.mark.parametrize("routing_key", sorted(CATALOGUE))
def test_every_event_type_is_accepted_from_its_producer_only(routing_key):
    message = wire(routing_key)
    assert parse_event(message).source == f"/services/{CATALOGUE[routing_key].producer}"
    for service in SERVICES:
        if service != CATALOGUE[routing_key].producer:
            assert fields(refused({**message, "source": f"/services/{service}"})) == ["source"]
