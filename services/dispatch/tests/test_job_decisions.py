"""The decisions on one job, pure: assignment, pre-diagnosis and departure, SLA alerts and deadlines met."""

from datetime import UTC, date, datetime, timedelta

import pytest

from compressor_contracts import AssignmentMode, JobRequested, JobSlaAtRisk, JobSlaBreached, SlaDeadline
from compressor_contracts.examples import example
from compressor_kit.refusals import Refusal, RefusalKind
from dispatch_service.engineers.domain import EngineerProfile
from dispatch_service.jobs.domain import Commitment, Job, JobStatus
from dispatch_service.matching.domain import assign, cancelled, check_reassignable, new_job
from dispatch_service.prediagnosis.domain import depart, prediagnose
from dispatch_service.sla.domain import SlaPolicy, alerts, arrived, inspection_passed

REQUESTED = datetime(2030, 1, 7, 8, tzinfo=UTC)
POLICY = SlaPolicy(
    {"critical": 4, "high": 8, "normal": 24, "low": 72}, {"critical": 24, "high": 48, "normal": 120, "low": 240}, 0.75
)
ENGINEER = EngineerProfile(
    engineer_id="ENG-001",
    name="Lim Wei Jie",
    compressor_types=frozenset({"oil_injected_screw"}),
    brands=frozenset({"atlas copco"}),
    certifications=(),
    regions=frozenset({"central"}),
    timezone="UTC",
    shifts=tuple((d, 8 * 60, 17 * 60) for d in range(5)),
    leave=(),
    capacity_per_day=4,
    active=True,
)


def requested_job() -> Job:
    request = example("job.requested.v1")
    assert isinstance(request, JobRequested)
    return new_job(request, "evt-1", "evt-1", REQUESTED, POLICY, REQUESTED)


def assigned_job() -> Job:
    job = requested_job()
    start = REQUESTED + timedelta(hours=1)
    after, _ = assign(
        job, ENGINEER, start, start + timedelta(hours=2), date(2030, 1, 7), AssignmentMode.AUTOMATIC, "why", REQUESTED
    )
    return after


def refusal_of(decide) -> Refusal:
    with pytest.raises(Refusal) as refused:
        decide()
    return refused.value


def test_assignment_books_the_engineer_and_names_the_one_replaced():
    job = assigned_job()
    assert job.status == JobStatus.ASSIGNED and job.assignment_revision == 1 and job.booking_day == "2030-01-07"
    other = EngineerProfile(**{**ENGINEER.__dict__, "engineer_id": "ENG-002", "name": "Nurul"})
    again, event = assign(
        job, other, REQUESTED, REQUESTED + timedelta(hours=2), date(2030, 1, 7), AssignmentMode.MANUAL, "x", REQUESTED
    )
    assert again.assignment_revision == 2 and event.previous_engineer is not None
    assert event.previous_engineer.engineer_id == "ENG-001" and event.engineer.engineer_id == "ENG-002"
    assert refusal_of(lambda: check_reassignable(again, "ENG-002")).kind == RefusalKind.CONFLICT
    closed = cancelled(again, "no visit needed", REQUESTED)
    assert refusal_of(lambda: check_reassignable(closed, "ENG-001")).field == "job_id"


def test_only_the_assigned_engineer_prediagnoses_once_then_departs():
    job = assigned_job()
    commitment = Commitment(arrive_by=REQUESTED + timedelta(hours=5), resolve_by=REQUESTED + timedelta(hours=30))

    def record(subject: str, on: Job = job):
        return prediagnose(
            on,
            subject,
            POLICY,
            REQUESTED,
            contacted_via="phone",
            confirmed_symptoms=["Trips"],
            suspected_causes=["Valve"],
            likely_parts=[],
            notes=None,
            commitment=commitment,
        )

    assert refusal_of(lambda: record("ENG-002")).kind == RefusalKind.FORBIDDEN
    assert refusal_of(lambda: depart(job, "ENG-001", REQUESTED, REQUESTED + timedelta(hours=1))).kind == "conflict"
    after, event = record("ENG-001")
    assert after.status == JobStatus.PREDIAGNOSED and event.commitment.arrive_by == commitment.arrive_by
    assert after.sla.arrive_by.due_at == commitment.arrive_by  # the commitment replaces the target
    assert refusal_of(lambda: record("ENG-001", after)).kind == RefusalKind.CONFLICT
    assert refusal_of(lambda: depart(after, "ENG-001", REQUESTED, REQUESTED)).field == "eta"
    gone, dispatched = depart(after, "ENG-001", REQUESTED, REQUESTED + timedelta(hours=1))
    assert gone.status == JobStatus.DISPATCHED and dispatched.departed_at == REQUESTED


def test_each_alert_is_raised_once_and_met_or_closed_deadlines_raise_none():
    job = assigned_job()  # high: arrive by 16:00, at risk from 14:00
    quiet, none = alerts(job, SlaDeadline.ARRIVE_BY, REQUESTED + timedelta(hours=5))
    assert none == [] and quiet is job
    late = REQUESTED + timedelta(hours=9)
    raised, events = alerts(job, SlaDeadline.ARRIVE_BY, late)
    assert [type(e) for e in events] == [JobSlaAtRisk, JobSlaBreached]
    assert raised.sla.arrive_by.at_risk_raised_at == late and raised.sla.arrive_by.breached_at == late
    assert alerts(raised, SlaDeadline.ARRIVE_BY, late + timedelta(hours=1))[1] == []
    on_site = arrived(job, REQUESTED + timedelta(hours=2), REQUESTED + timedelta(hours=2))
    assert on_site.status == JobStatus.ON_SITE and alerts(on_site, SlaDeadline.ARRIVE_BY, late)[1] == []
    resolved = inspection_passed(on_site, late, late)
    assert resolved.status == JobStatus.RESOLVED
    assert alerts(resolved, SlaDeadline.RESOLVE_BY, late + timedelta(days=30))[1] == []
    stopped = cancelled(job, "no visit needed", REQUESTED)
    assert inspection_passed(stopped, late, late).status == JobStatus.CANCELLED
