"""The topology as data: quorum queues with dead-lettering, and who receives which event."""

import subprocess
import sys

import pytest

from compressor_contracts import (
    CATALOGUE,
    DELIVERY_LIMIT,
    EXCHANGE,
    INTEGRATION_ONLY,
    PRODUCERS,
    QUEUES,
    SERVICES,
    QueueSpec,
    consumers_of,
    service_topology,
    topic_matches,
)
from compressor_contracts.topology import DEAD_LETTER_MAX_LENGTH


def test_exchange_and_services():
    assert EXCHANGE == "compressor.events"
    assert SERVICES == ("intake", "dispatch", "maintenance", "quality", "reporting", "feedback", "telemetry", "console")
    assert PRODUCERS == SERVICES[:-1]
    assert isinstance(DELIVERY_LIMIT, int) and 1 < DELIVERY_LIMIT <= 50


@pytest.mark.parametrize("service", SERVICES)
def test_every_queue_is_quorum_with_dead_lettering(service):
    topology = service_topology(service)
    assert topology.service == service
    assert topology.dead_letter_exchange == f"{service}.dead-letter"
    assert topology.dead_letter_queue == f"{service}.dead-letters"
    assert topology.dead_letter_exchange_type == "fanout"
    # Bounded: a full dead-letter queue refuses the dead-lettering publish (the publisher sees a nack)
    # instead of dropping its oldest letter (libs/kit/tests/test_dead_letter_limit.py, on the broker).
    assert topology.dead_letter_queue_arguments == {
        "x-queue-type": "quorum",
        "x-max-length": DEAD_LETTER_MAX_LENGTH,
        "x-overflow": "reject-publish",
    }
    assert DEAD_LETTER_MAX_LENGTH == 10_000
    assert topology.queues, f"{service} consumes something"
    for queue in topology.queues:
        assert queue.service == service
        assert queue.name == f"{service}.{queue.purpose}"
        assert queue.description
        assert queue.arguments == {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": f"{service}.dead-letter",
            "x-delivery-limit": DELIVERY_LIMIT,
        }


def test_queue_names_are_unique_and_specs_are_frozen():
    names = [q.name for q in QUEUES]
    assert len(names) == len(set(names))
    with pytest.raises(AttributeError):
        QUEUES[0].name = "other"  # type: ignore[misc]


def test_unknown_service_is_refused():
    with pytest.raises(ValueError):
        service_topology("billing")
    with pytest.raises(ValueError):
        QueueSpec("billing.x", "billing", "x", ("job.#",), "nope")


def test_every_event_has_a_consumer_or_is_integration_only():
    for routing_key in CATALOGUE:
        if routing_key in INTEGRATION_ONLY:
            assert consumers_of(routing_key) == []
        else:
            assert consumers_of(routing_key), f"nobody consumes {routing_key}"
    assert INTEGRATION_ONLY <= set(CATALOGUE)


def test_explicit_bindings_name_catalogue_events():
    for queue in QUEUES:
        for binding in queue.bindings:
            if "*" not in binding and "#" not in binding:
                assert binding in CATALOGUE, f"{queue.name} binds unknown {binding}"


EXPECTED = {
    "intake.customer-file": {"job.closed.v1"},
    "dispatch.job-requests": {"job.requested.v1", "job.cancelled.v1"},
    "dispatch.sla-tracking": {"job.engineer_arrived.v1", "job.inspection_passed.v1"},
    "maintenance.work-orders": {
        "job.requested.v1",
        "job.assigned.v1",
        "job.prediagnosed.v1",
        "job.inspection_failed.v1",
        "job.inspection_passed.v1",
        "job.cancelled.v1",
    },
    "quality.inspections": {"job.work_completed.v1", "job.cancelled.v1"},
    "feedback.surveys": {"job.report_published.v1"},
}


@pytest.mark.parametrize(("queue_name", "expected"), EXPECTED.items())
def test_queues_receive_exactly_the_expected_events(queue_name, expected):
    received = {key for key in CATALOGUE if (queue_name.split(".")[0], queue_name) in consumers_of(key)}
    assert received == expected


def test_timeline_receives_every_job_event():
    timeline = ("reporting", "reporting.timeline")
    for key in CATALOGUE:
        assert (timeline in consumers_of(key)) == key.startswith(("job.", "customer.", "customer_file.")), key
    assert timeline in consumers_of("job.something_new.v2")  # future versions reach the timeline


def test_feedback_hears_what_management_and_customers_are_told():
    notifications = ("feedback", "feedback.notifications")
    for key in (
        "job.requested.v1",
        "job.sla_at_risk.v1",
        "job.sla_breached.v1",
        "job.inspection_escalated.v1",
        "job.prediagnosed.v1",
        "job.engineer_dispatched.v1",
        "job.progress_reported.v1",
        "job.inspection_passed.v1",
    ):
        assert notifications in consumers_of(key), key


def test_reporting_hears_each_event_once_and_so_what_the_record_needs():
    # The record is built from the job's stored timeline: one queue, one transaction per event.
    timeline = ("reporting", "reporting.timeline")
    assert [q.name for q in service_topology("reporting").queues] == ["reporting.timeline"]
    for key in ("job.requested.v1", "job.diagnosed.v1", "job.work_completed.v1", "job.inspection_passed.v1"):
        assert [c for c in consumers_of(key) if c[0] == "reporting"] == [timeline], key


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("job.requested.v1", "job.requested.v1", True),
        ("job.requested.v1", "job.requested.v2", False),
        ("job.*.v1", "job.requested.v1", True),
        ("job.*.v1", "job.requested.v2", False),
        ("job.*", "job.requested.v1", False),
        ("*.requested.*", "job.requested.v1", True),
        ("job.#", "job.requested.v1", True),
        ("job.#", "job", True),
        ("job.#", "jobs.requested.v1", False),
        ("job.#", "customer_file.updated.v1", False),
        ("#", "anything.at.all", True),
        ("#.v1", "job.requested.v1", True),
        ("#.v1", "job.requested.v2", False),
        ("job.#.v1", "job.v1", True),
        ("job.#.v1", "job.a.b.c.v1", True),
        ("customer.#", "customer_file.updated.v1", False),
        ("customer.#", "customer.notified.v1", True),
    ],
)
def test_topic_matching(pattern, key, matches):
    assert topic_matches(pattern, key) is matches


def test_consumers_of_unknown_keys():
    assert consumers_of("backup.completed.v1") == []
    assert consumers_of("billing.invoiced.v1") == []
    assert consumers_of("job.requested.v1")[0] == ("dispatch", "dispatch.job-requests")


def test_contracts_need_no_broker_library():
    code = (
        "import sys, compressor_contracts, compressor_contracts.docs; "
        "print([m for m in sys.modules if m.split('.')[0] in ('faststream', 'aio_pika', 'aiormq')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_priority_rank_orders_by_urgency():
    from compressor_contracts import Priority

    assert sorted(Priority, key=lambda p: p.rank) == [Priority.CRITICAL, Priority.HIGH, Priority.NORMAL, Priority.LOW]
    assert Priority.CRITICAL.rank == 0
