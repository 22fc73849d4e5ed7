"""A job's events, built from the contract examples with controllable times and facts, and the
settings the tests run the app with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from compressor_contracts import CloudEvent, ServiceCommitment, new_event
from compressor_contracts.common import Engineer, FailureCategory, Priority
from compressor_contracts.examples import EQUIPMENT, ROUND1, ROUND2, SITE, example
from compressor_kit.settings import Settings
from reporting_service.settings import ReportingSettings

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


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
        requested = example("job.requested.v1").model_copy(
            update={
                **common,
                "priority": Priority(self.priority),
                "equipment": equipment,
                "site": site,
                "customer": example("job.requested.v1").customer.model_copy(update={"customer_id": self.customer_id}),
            }
        )
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
            (a + 1.5, example("job.plan_proposed.v1").model_copy(update={**common, "engineer": engineer})),
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
                            "rework_indicators": [] if r == 1 else [ROUND1[1]],
                        }
                    ),
                )
            )
            steps.append((base + 1, completed))
            if r < self.rounds:
                steps.append(
                    (base + 1.5, example("job.inspection_failed.v1").model_copy(update={**common, "round": r}))
                )
            else:
                steps.append(
                    (
                        base + 1.5,
                        example("job.inspection_passed.v1").model_copy(
                            update={**common, "round": r, "indicators": ROUND2}
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

    @property
    def passed_at(self) -> datetime:
        return next(e.time for e in self.events if e.type.endswith("job.inspection_passed.v1"))
