"""A job's events, built from the contract examples with controllable times and facts, and the
settings the tests run the app with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from compressor_contracts import CloudEvent, JobSigned, ServiceCommitment, StoredObject, new_event
from compressor_contracts.common import CustomerRepresentative, Engineer, FailureCategory, Language, Priority
from compressor_contracts.events.maintenance import SignedFor
from compressor_contracts.examples import EQUIPMENT, ROUND1, ROUND2, SITE, STEPS, example
from compressor_kit.settings import Settings
from reporting_service.settings import ReportingSettings

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

# What maintenance and quality write for a Malay reader (the examples carry English only).
STEPS_MS = {
    1: "Putuskan bekalan elektrik dan pasang kunci serta tag keselamatan (LOTO)",
    2: "Tutup injap keluar dan nyahtekan pemampat",
    3: "Keluarkan minyak dan ganti penapis minyak",
    4: "Ganti elemen injap termostatik",
    5: "Isi semula minyak, sambung semula bekalan dan uji larian selama 30 minit",
}
INDICATORS_MS = {
    "discharge_pressure": "Tekanan nyahcas",
    "discharge_temperature": "Suhu nyahcas",
    "vibration": "Halaju getaran (ISO 10816 kelas II)",
    "noise": "Aras tekanan bunyi pada jarak 1 m",
    "motor_current": "Arus motor",
    "pressure_dew_point": "Takat embun tekanan",
}
CORRECTIVE_MS = "Periksa injap termostatik, paras dan gred minyak, serta kekotoran pada penyejuk minyak."


def in_malay(indicators):
    return [
        i.model_copy(
            update={
                "name_ms": INDICATORS_MS[i.code],
                "corrective_action_ms": CORRECTIVE_MS if i.corrective_action else None,
            }
        )
        for i in indicators
    ]


def settings_for(test_settings: Settings, **overrides: object) -> ReportingSettings:
    values = {**test_settings.model_dump(), "report_publish_interval_seconds": 0.2, **overrides}
    return ReportingSettings(**values)


@dataclass
class Job:
    job_id: str
    start: datetime = T0
    rounds: int = 2
    arrive_after_h: float = 4.0
    arrive_by_h: float | None = 8.0
    resolve_by_h: float | None = 32.0
    model_code: str = "AC-GA37VSD"
    equipment_id: str = "EQ-7781"
    engineer_id: str = "ENG-014"
    region: str = "central"
    customer_id: str = "CUST-0107"
    priority: str = "high"
    failure_category: FailureCategory = FailureCategory.COOLING
    root_cause: str = "Thermostatic valve stuck open: oil bypasses the cooler."
    csat: int | None = None
    nps: int | None = None
    language: Language = Language.EN
    malay: bool = False
    """Whether maintenance and quality wrote Malay step and indicator texts."""
    events: list[CloudEvent] = field(default_factory=list)

    def at(self, hours: float) -> datetime:
        return self.start + timedelta(hours=hours)

    def build(self) -> list[CloudEvent]:
        """requested 0h, assigned 0.5h, prediagnosed 1h, dispatched 3h, arrived, diagnosed +1h, plan
        proposed +1.5h, approved +2h; each round: started +3h+2r, completed +1h, inspected +1.5h."""
        engineer = Engineer(engineer_id=self.engineer_id, name=f"Engineer {self.engineer_id}")
        equipment = EQUIPMENT.model_copy(update={"model_code": self.model_code, "equipment_id": self.equipment_id})
        site = SITE.model_copy(update={"region": self.region})
        common = {"job_id": self.job_id}
        template = example("job.requested.v1")
        requested = template.model_copy(
            update={
                **common,
                "priority": Priority(self.priority),
                "equipment": equipment,
                "site": site,
                "customer": template.customer.model_copy(update={"customer_id": self.customer_id}),
                "contact": template.contact.model_copy(update={"language": self.language}),
            }
        )
        steps_in_plan = [
            s.model_copy(update={"description_ms": STEPS_MS[s.sequence] if self.malay else None}) for s in STEPS
        ]
        round1, round2 = (in_malay(ROUND1), in_malay(ROUND2)) if self.malay else (ROUND1, ROUND2)
        a = self.arrive_after_h
        steps: list[tuple[float, object]] = [
            (0, requested),
            (
                0.5,
                example("job.assigned.v1").model_copy(
                    update={
                        **common,
                        "engineer": engineer,
                        "equipment": equipment,
                        "site": site,
                        "region": self.region,
                        "priority": Priority(self.priority),
                    }
                ),
            ),
        ]
        if self.arrive_by_h is not None:
            commitment = ServiceCommitment(arrive_by=self.at(self.arrive_by_h), resolve_by=self.at(self.resolve_by_h))
            steps.append(
                (
                    1,
                    example("job.prediagnosed.v1").model_copy(
                        update={**common, "engineer": engineer, "commitment": commitment}
                    ),
                )
            )
        steps += [
            (3, example("job.engineer_dispatched.v1").model_copy(update={**common, "engineer": engineer})),
            (
                a,
                example("job.engineer_arrived.v1").model_copy(
                    update={**common, "engineer": engineer, "arrived_at": self.at(a)}
                ),
            ),
            (
                a + 1,
                example("job.diagnosed.v1").model_copy(
                    update={
                        **common,
                        "engineer": engineer,
                        "failure_category": self.failure_category,
                        "root_cause": self.root_cause,
                    }
                ),
            ),
            (
                a + 1.5,
                example("job.plan_proposed.v1").model_copy(
                    update={**common, "engineer": engineer, "steps": steps_in_plan}
                ),
            ),
            (a + 2, example("job.plan_approved.v1").model_copy(update=common)),
        ]
        for r in range(1, self.rounds + 1):
            base = a + 2 + 3 * (r - 1)
            completed = example("job.work_completed.v1").model_copy(
                update={
                    **common,
                    "round": r,
                    "engineer": engineer,
                    "equipment": equipment,
                    "labour_hours": 3.5 if r == 1 else 2.0,
                    "repair_method": f"Round {r} repair.",
                }
            )
            steps.append(
                (
                    base + 0.25,
                    example("job.work_started.v1").model_copy(
                        update={
                            **common,
                            "round": r,
                            "engineer": engineer,
                            "rework_indicators": [] if r == 1 else [round1[1]],
                        }
                    ),
                )
            )
            steps.append((base + 1, completed))
            if r < self.rounds:
                steps.append(
                    (
                        base + 1.5,
                        example("job.inspection_failed.v1").model_copy(
                            update={
                                **common,
                                "round": r,
                                "failed_indicators": [i for i in round1 if not i.passed],
                                "passed_indicators": [i for i in round1 if i.passed],
                            }
                        ),
                    )
                )
            else:
                steps.append(
                    (
                        base + 1.5,
                        example("job.inspection_passed.v1").model_copy(
                            update={**common, "round": r, "indicators": round2}
                        ),
                    )
                )
        if self.csat is not None:
            passed_h = steps[-1][0]
            steps.append(
                (
                    passed_h + 24,
                    example("job.feedback_received.v1").model_copy(
                        update={**common, "csat": self.csat, "nps": self.nps}
                    ),
                )
            )
        events = []
        correlation = None
        for hours, data in steps:
            event = new_event(
                data,
                source_service=type(data).producer,
                subject=self.job_id,
                correlation_id=correlation,
                time=self.at(hours),
            )
            correlation = correlation or event.id
            events.append(event)
        self.events = events
        return events

    def signed(
        self,
        image: StoredObject,
        *,
        hours: float,
        signer: str = "Puan Siti Aminah binti Ismail",
        role: str = "Pengurus Loji",
        round: int | None = None,
        plan_revision: int | None = None,
    ) -> CloudEvent:
        """job.signed `hours` after the start: a work acceptance of `round`, or a plan approval."""
        signature = JobSigned(
            job_id=self.job_id,
            signature_id=f"SIG-{self.job_id}-{'P' if plan_revision else 'W'}{plan_revision or round}",
            signed_for=SignedFor.PLAN_APPROVAL if plan_revision else SignedFor.WORK_ACCEPTANCE,
            plan_revision=plan_revision,
            round=round,
            signer=CustomerRepresentative(name=signer, role=role),
            signed_at=self.at(hours),
            content_sha256="5" * 64,
            image=image,
            collected_by=Engineer(engineer_id=self.engineer_id, name=f"Engineer {self.engineer_id}"),
        )
        return new_event(signature, source_service="maintenance", subject=self.job_id, time=self.at(hours))

    @property
    def passed_at(self) -> datetime:
        return next(e.time for e in self.events if e.type.endswith("job.inspection_passed.v1"))
