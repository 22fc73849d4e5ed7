"""A realistic example payload for every event: one job's story, for tests, docs and integrators.

The job: a Kuala Lumpur food plant's oil-injected screw compressor trips on high discharge
temperature; the thermostatic valve and oil filter are replaced, the first inspection fails on
temperature, the second round (oil cooler cleaned) passes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from compressor_contracts.common import (
    CompressorType,
    Contact,
    Customer,
    CustomerRepresentative,
    Engineer,
    Equipment,
    FailureCategory,
    IndicatorResult,
    Language,
    Measurement,
    NotificationChannel,
    PartLine,
    PartUsed,
    PlanStep,
    Priority,
    RequestChannel,
    ServiceCommitment,
    ServiceOutcome,
    Site,
    StaffMember,
    StaffRole,
    StepDone,
    StoredObject,
    TimeWindow,
)
from compressor_contracts.envelope import CloudEvent, EventData, new_event
from compressor_contracts.events import (
    AlarmSeverity,
    AssignmentMode,
    BackupCompleted,
    BackupDatabase,
    BackupFailed,
    BackupTrigger,
    CustomerFileUpdated,
    CustomerNotified,
    DueBy,
    EquipmentAlarmRaised,
    EquipmentServiceCameDue,
    EquipmentWentSilent,
    FollowUp,
    FollowUpKind,
    JobAssigned,
    JobCancelled,
    JobClosed,
    JobDiagnosed,
    JobEngineerArrived,
    JobEngineerDispatched,
    JobFeedbackReceived,
    JobInspectionEscalated,
    JobInspectionFailed,
    JobInspectionPassed,
    JobPlanApproved,
    JobPlanProposed,
    JobPlanRejected,
    JobPrediagnosed,
    JobProgressReported,
    JobReportPublished,
    JobRequested,
    JobReviewed,
    JobSigned,
    JobSlaAtRisk,
    JobSlaBreached,
    JobSurveySent,
    JobWorkCompleted,
    JobWorkStarted,
    PrediagnosisContact,
    ReadingSummary,
    SignedFor,
    SlaDeadline,
    SlaRiskReason,
    SurveyAnswerSource,
    SurveyStatus,
)

JOB_ID = "JOB-2026-000042"
BACKUP_ID = "BK-20260305-0200"
T0 = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)


def at(hours: float) -> datetime:
    """A time `hours` after the request."""
    return T0 + timedelta(hours=hours)


CUSTOMER = Customer(customer_id="CUST-0107", name="Seri Murni Foods Sdn Bhd")
CONTACT = Contact(
    name="Aminah binti Rahman",
    role="Plant maintenance lead",
    phone="+60123456789",
    email="aminah.rahman@serimurni.example",
    preferred_channel=NotificationChannel.EMAIL,
    language=Language.MS,
)
SITE = Site(
    site_id="SITE-0107-02",
    name="Shah Alam plant 2",
    address="Lot 12, Jalan Perusahaan 4, Seksyen 15",
    city="Shah Alam",
    postal_code="40200",
    country="MY",
    region="central",
)
EQUIPMENT = Equipment(
    equipment_id="EQ-7781",
    model_code="AC-GA37VSD",
    brand="Atlas Copco",
    model="GA 37 VSD+",
    compressor_type=CompressorType.OIL_INJECTED_SCREW,
    serial_number="API123456",
    purchase_date=date(2021, 6, 14),
    warranty_end=date(2023, 6, 13),
    running_hours=23_410,
    dryer_fitted=True,
)
ENGINEER = Engineer(engineer_id="ENG-014", name="Lim Wei Jie")
RECEPTION = StaffMember(user_id="u-reception-3", name="Nurul Izzah", role=StaffRole.RECEPTION)
INSPECTOR = StaffMember(user_id="u-inspector-1", name="Rajesh Kumar", role=StaffRole.INSPECTOR)
MANAGER = StaffMember(user_id="u-manager-1", name="Tan Mei Ling", role=StaffRole.MANAGER)
APPROVER = CustomerRepresentative(name="Encik Faizal Hassan", role="Plant manager")

PARTS = [
    PartLine(part_number="1622-3600-00", description="Thermostatic valve kit", quantity=1),
    PartLine(part_number="1625-4800-00", description="Oil filter", quantity=1),
    PartLine(part_number="2901-0522-00", description="Roto-Inject Fluid", quantity=10, unit="l"),
]
PARTS_USED = [PartUsed(**p.model_dump()) for p in PARTS] + [
    PartUsed(
        part_number="2901-1000-05",
        description="Oil cooler cleaning agent",
        quantity=2,
        unit="l",
        in_plan=False,
        reason="Oil cooler fouled; found during rework after the discharge temperature failed.",
    )
]
STEPS = [
    PlanStep(
        sequence=1,
        description="Isolate electrical supply and apply lock-out/tag-out",
        safety=True,
        procedure_step="GA-S01",
        standard_minutes=10,
    ),
    PlanStep(
        sequence=2,
        description="Close outlet valve and depressurise the compressor",
        safety=True,
        procedure_step="GA-S02",
        standard_minutes=10,
    ),
    PlanStep(
        sequence=3, description="Drain oil and replace the oil filter", procedure_step="GA-M07", standard_minutes=45
    ),
    PlanStep(
        sequence=4, description="Replace the thermostatic valve element", procedure_step="GA-M12", standard_minutes=60
    ),
    PlanStep(
        sequence=5,
        description="Refill oil, restore supply and run a 30-minute test",
        procedure_step="GA-M20",
        standard_minutes=40,
    ),
]


def _done(step: PlanStep, hours: float) -> StepDone:
    return StepDone(sequence=step.sequence, description=step.description, safety=step.safety, completed_at=at(hours))


STEPS_DONE = [_done(s, 27 + i * 0.5) for i, s in enumerate(STEPS)]


def _indicator(
    code: str, name: str, value: float, unit: str, lo: float | None, hi: float | None, fix: str | None = None
) -> IndicatorResult:
    passed = (lo is None or value >= lo) and (hi is None or value <= hi)
    return IndicatorResult(
        code=code,
        name=name,
        value=value,
        unit=unit,
        min_limit=lo,
        max_limit=hi,
        passed=passed,
        corrective_action=None if passed else fix,
    )


ROUND1 = [
    _indicator("discharge_pressure", "Discharge pressure", 7.4, "bar", 6.5, 7.5),
    _indicator(
        "discharge_temperature",
        "Discharge temperature",
        104.0,
        "°C",
        None,
        100.0,
        "Check the thermostatic valve, the oil level and grade, and the oil cooler for fouling.",
    ),
    _indicator("vibration", "Vibration velocity (ISO 10816 class II)", 2.1, "mm/s", None, 4.5),
    _indicator("noise", "Sound pressure level at 1 m", 67.0, "dB(A)", None, 72.0),
    _indicator("motor_current", "Motor current", 64.0, "A", None, 71.0),
    _indicator("pressure_dew_point", "Pressure dew point", 4.0, "°C", None, 7.0),
]
ROUND2 = [
    *ROUND1[:1],
    _indicator("discharge_temperature", "Discharge temperature", 91.0, "°C", None, 100.0),
    *ROUND1[2:],
]

OUTCOME = ServiceOutcome(
    customer_id=CUSTOMER.customer_id,
    equipment_id=EQUIPMENT.equipment_id,
    serial_number=EQUIPMENT.serial_number,
    service_date=date(2026, 3, 3),
    engineer=ENGINEER,
    root_cause="Thermostatic valve stuck open and oil cooler fouled: oil bypassed cooling, "
    "discharge temperature tripped at 110 °C.",
    failure_category=FailureCategory.COOLING,
    repair_method="Replaced the thermostatic valve element and oil filter, changed the oil, cleaned the oil cooler.",
    parts_used=PARTS_USED,
    labour_hours=5.5,
    inspection_rounds=2,
    running_hours=23_436,
    arrive_by_met=True,
    resolve_by_met=True,
)
REPORT = StoredObject(
    bucket="reports",
    object_key=f"2026/03/{JOB_ID}/v1/report.pdf",
    sha256="9f2c3b1e5a7d4c8b6e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f",
    size_bytes=184_233,
    content_type="application/pdf",
)

_READINGS = [
    ReadingSummary(
        read_at=at(-2 - hours),
        running_hours=23_960 + (24 - hours),
        loaded_hours=19_020 + (24 - hours),
        discharge_pressure_bar=7.4,
        element_outlet_temperature_c=88.0 + hours / 12,
    )
    for hours in (24, 12, 0)
]

_EXAMPLES: dict[str, Callable[[], EventData]] = {
    "equipment.service_came_due.v1": lambda: EquipmentServiceCameDue(
        equipment_id=EQUIPMENT.equipment_id,
        device_id="DEV-7781-GW1",
        service_level="A",
        due_by=DueBy.RUNNING_HOURS,
        due_at_hours=24_000,
        due_on=date(2026, 3, 4),
        running_hours=23_984,
        due_key=f"{EQUIPMENT.equipment_id}:A:24000h",
        recent_readings=_READINGS,
    ),
    "equipment.alarm_raised.v1": lambda: EquipmentAlarmRaised(
        equipment_id=EQUIPMENT.equipment_id,
        device_id="DEV-7781-GW1",
        alarm_code="E-TEMP-HIGH",
        severity=AlarmSeverity.SHUTDOWN,
        description="Element outlet temperature above the shutdown limit",
        raised_at=at(-1),
        episode_id="ALM-7781-0003",
        recent_readings=_READINGS,
    ),
    "equipment.went_silent.v1": lambda: EquipmentWentSilent(
        equipment_id=EQUIPMENT.equipment_id,
        device_id="DEV-7781-GW1",
        last_reading_at=at(-3 * 24 - 5),
        silent_days=3,
    ),
    "job.requested.v1": lambda: JobRequested(
        job_id=JOB_ID,
        channel=RequestChannel.PHONE,
        priority=Priority.HIGH,
        customer=CUSTOMER,
        contact=CONTACT,
        site=SITE,
        equipment=EQUIPMENT,
        fault_description="Compressor trips on high discharge temperature after about 40 minutes of running.",
        recorded_by=RECEPTION,
        photo_keys=[f"{CUSTOMER.customer_id}/3f9a1c2b7d4e5f60-alarm-display.jpg"],
    ),
    "job.cancelled.v1": lambda: JobCancelled(
        job_id=JOB_ID,
        reason="Customer's own technician found a closed cooling-water valve; no visit needed.",
        cancelled_by=CONTACT.name,
        recorded_by=RECEPTION,
    ),
    "job.assigned.v1": lambda: JobAssigned(
        job_id=JOB_ID,
        engineer=ENGINEER,
        mode=AssignmentMode.AUTOMATIC,
        scheduled_window=TimeWindow(start=at(2), end=at(8)),
        matched_skills=["oil_injected_screw", "brand:Atlas Copco"],
        region="central",
        reason="Skilled in oil-injected screw and Atlas Copco, covers central, earliest free slot (2 h) "
        "within the high-priority target; 2 jobs today.",
        priority=Priority.HIGH,
        equipment=EQUIPMENT,
        site=SITE,
        fault_description="Compressor trips on high discharge temperature after about 40 minutes of running.",
    ),
    "job.prediagnosed.v1": lambda: JobPrediagnosed(
        job_id=JOB_ID,
        engineer=ENGINEER,
        contacted_via=PrediagnosisContact.PHONE,
        confirmed_symptoms=["Trip at 110 °C discharge temperature", "Oil level normal", "Cooling fan running"],
        suspected_causes=["Thermostatic valve stuck open", "Fouled oil cooler"],
        likely_parts=PARTS[:2],
        commitment=ServiceCommitment(arrive_by=at(8), resolve_by=at(32)),
    ),
    "job.engineer_dispatched.v1": lambda: JobEngineerDispatched(
        job_id=JOB_ID, engineer=ENGINEER, departed_at=at(3), eta=at(4)
    ),
    "job.sla_at_risk.v1": lambda: JobSlaAtRisk(
        job_id=JOB_ID,
        deadline=SlaDeadline.RESOLVE_BY,
        due_at=at(32),
        reason=SlaRiskReason.DEADLINE_APPROACHING,
        priority=Priority.HIGH,
        engineer=ENGINEER,
        detail="80% of the time to resolve-by is gone and the inspection has not passed.",
    ),
    "job.sla_breached.v1": lambda: JobSlaBreached(
        job_id=JOB_ID,
        deadline=SlaDeadline.RESOLVE_BY,
        due_at=at(32),
        priority=Priority.HIGH,
        engineer=ENGINEER,
        detail="Resolve-by passed at 2026-03-03 16:15 UTC without a passed inspection.",
    ),
    "job.engineer_arrived.v1": lambda: JobEngineerArrived(job_id=JOB_ID, engineer=ENGINEER, arrived_at=at(4)),
    "job.diagnosed.v1": lambda: JobDiagnosed(
        job_id=JOB_ID,
        engineer=ENGINEER,
        measurements=[
            Measurement(name="Discharge temperature at trip", value=110.0, unit="°C", instrument="Controller log"),
            Measurement(name="Oil cooler outlet temperature", value=96.0, unit="°C", instrument="Fluke 62 MAX"),
            Measurement(name="Ambient temperature", value=34.0, unit="°C"),
        ],
        root_cause="Thermostatic valve stuck open: oil bypasses the cooler.",
        failure_category=FailureCategory.COOLING,
        scope="Oil circuit only; element and motor undamaged.",
        running_hours=23_431,
        photo_keys=[f"{JOB_ID}/diagnosis/thermostatic-valve.jpg"],
    ),
    "job.plan_proposed.v1": lambda: JobPlanProposed(
        job_id=JOB_ID,
        revision=1,
        engineer=ENGINEER,
        procedure_id="AC-GA-VSD-OILCIRCUIT-R3",
        steps=STEPS,
        parts=PARTS,
        estimated_hours=3.0,
        standards=["Manufacturer procedure AC-GA-VSD-OILCIRCUIT rev 3", "ISO 1217:2009"],
    ),
    "job.plan_approved.v1": lambda: JobPlanApproved(
        job_id=JOB_ID, revision=1, approver=APPROVER, comments="Please finish before the night shift."
    ),
    "job.plan_rejected.v1": lambda: JobPlanRejected(
        job_id=JOB_ID,
        revision=1,
        rejected_by=APPROVER,
        comments="Work must not start before 14:00; revise the schedule.",
    ),
    "job.work_started.v1": lambda: JobWorkStarted(
        job_id=JOB_ID, round=2, engineer=ENGINEER, plan_revision=1, rework_indicators=[ROUND1[1]]
    ),
    "job.progress_reported.v1": lambda: JobProgressReported(
        job_id=JOB_ID,
        round=1,
        step=STEPS_DONE[3],
        steps_done=4,
        steps_total=5,
        message="The thermostatic valve has been replaced. Next: refill oil and a 30-minute test run.",
        message_ms="Injap termostatik telah diganti. Seterusnya: isi semula minyak dan uji larian selama 30 minit.",
    ),
    "job.signed.v1": lambda: JobSigned(
        job_id=JOB_ID,
        signature_id="SIG-2026-000042-1",
        signed_for=SignedFor.PLAN_APPROVAL,
        plan_revision=1,
        signer=APPROVER,
        signed_at=at(27.1),
        content_sha256="9f2c4a" + "0" * 58,
        image=StoredObject(
            bucket="maintenance-photos",
            object_key=f"signatures/{JOB_ID}/SIG-2026-000042-1.png",
            sha256="3b7e1d" + "0" * 58,
            size_bytes=6_412,
            content_type="image/png",
        ),
        collected_by=ENGINEER,
    ),
    "job.work_completed.v1": lambda: JobWorkCompleted(
        job_id=JOB_ID,
        round=1,
        engineer=ENGINEER,
        equipment=EQUIPMENT,
        steps_done=STEPS_DONE,
        parts_used=PARTS_USED[:3],
        labour_hours=3.5,
        repair_method="Replaced the thermostatic valve element and oil filter, changed the oil.",
    ),
    "job.inspection_passed.v1": lambda: JobInspectionPassed(
        job_id=JOB_ID, round=2, inspector=INSPECTOR, template_id="QT-OIS-VSD", indicators=ROUND2
    ),
    "job.inspection_failed.v1": lambda: JobInspectionFailed(
        job_id=JOB_ID,
        round=1,
        inspector=INSPECTOR,
        template_id="QT-OIS-VSD",
        failed_indicators=[i for i in ROUND1 if not i.passed],
        passed_indicators=[i for i in ROUND1 if i.passed],
    ),
    "job.inspection_escalated.v1": lambda: JobInspectionEscalated(
        job_id=JOB_ID,
        failed_rounds=3,
        threshold=3,
        last_failed_indicators=[ROUND1[1]],
        detail="Discharge temperature still above 100 °C after three rounds.",
    ),
    "job.report_published.v1": lambda: JobReportPublished(
        job_id=JOB_ID, record_id="REC-2026-000042", record_version=1, report=REPORT, outcome=OUTCOME
    ),
    "backup.completed.v1": lambda: BackupCompleted(
        backup_id=BACKUP_ID,
        trigger=BackupTrigger.SCHEDULED,
        started_at=datetime(2026, 3, 5, 2, 0, tzinfo=UTC),
        manifest=StoredObject(
            bucket="backups",
            object_key=f"daily/{BACKUP_ID}/manifest.json",
            sha256="0d4c1e9b8a7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918070605f",
            size_bytes=4_812,
            content_type="application/json",
        ),
        databases=[
            BackupDatabase(database="intake", collections=5, documents=12_840),
            BackupDatabase(database="reporting", collections=4, documents=30_112),
        ],
        total_bytes=7_340_032,
    ),
    "backup.failed.v1": lambda: BackupFailed(
        backup_id=BACKUP_ID,
        trigger=BackupTrigger.ON_DEMAND,
        started_at=datetime(2026, 3, 5, 2, 0, tzinfo=UTC),
        stage="upload reporting",
        error="object store unreachable: connection refused (127.0.0.1:9000)",
    ),
    "customer.notified.v1": lambda: CustomerNotified(
        job_id=JOB_ID,
        notification_id="NTF-000913",
        channel=NotificationChannel.EMAIL,
        recipient=CONTACT.email or "aminah.rahman@serimurni.example",
        about_event="job.engineer_dispatched.v1",
        about_event_id="5d1f9f0e-2f55-4c1e-9a59-3a8f0b6c2d11",
        template="engineer-dispatched",
        attempts=1,
    ),
    "job.survey_sent.v1": lambda: JobSurveySent(
        job_id=JOB_ID,
        survey_id="SRV-000311",
        channel=NotificationChannel.EMAIL,
        expires_at=at(24 * 16),
        record_id="REC-2026-000042",
        record_version=1,
    ),
    "job.feedback_received.v1": lambda: JobFeedbackReceived(
        job_id=JOB_ID,
        survey_id="SRV-000311",
        csat=4,
        nps=9,
        comments="Quick response, clear updates. The second visit could have been avoided.",
        answered_via=SurveyAnswerSource.FORM,
        low_score=False,
    ),
    "job.reviewed.v1": lambda: JobReviewed(
        job_id=JOB_ID,
        reviewer=MANAGER,
        memo="High-temperature trip: thermostatic valve replaced; rework needed for a fouled oil cooler.",
        lessons=["Check oil cooler fouling during diagnosis when ambient is above 30 °C."],
        follow_ups=[
            FollowUp(
                kind=FollowUpKind.PROACTIVE_VISIT,
                description="Inspect the cooler before the dry season.",
                due_on=date(2026, 6, 1),
            )
        ],
    ),
    "job.closed.v1": lambda: JobClosed(
        job_id=JOB_ID,
        outcome=OUTCOME,
        record_id="REC-2026-000042",
        record_version=1,
        report=REPORT,
        survey_status=SurveyStatus.ANSWERED,
        csat=4,
        nps=9,
        follow_ups=[
            FollowUp(
                kind=FollowUpKind.PROACTIVE_VISIT,
                description="Inspect the cooler before the dry season.",
                due_on=date(2026, 6, 1),
            )
        ],
    ),
    "customer_file.updated.v1": lambda: CustomerFileUpdated(
        job_id=JOB_ID,
        customer_id=CUSTOMER.customer_id,
        equipment_id=EQUIPMENT.equipment_id,
        history_entry_id="HIST-7781-0009",
        last_service_on=date(2026, 3, 3),
        running_hours=23_436,
        next_service_due_on=date(2026, 9, 3),
        next_service_due_at_hours=27_436,
    ),
}


def example(routing_key: str) -> EventData:
    """A valid, realistic payload for the event with this routing key (a new instance each call)."""
    try:
        return _EXAMPLES[routing_key]()
    except KeyError:
        raise KeyError(f"no example for {routing_key!r}") from None


def example_event(routing_key: str, **envelope: Any) -> CloudEvent[Any]:
    """The example payload in an envelope from its producer; keyword arguments go to new_event."""
    data = example(routing_key)
    envelope.setdefault("subject", data.subject())
    return new_event(data, source_service=data.producer, **envelope)
