"""The RabbitMQ topology as plain data: one exchange, queues per consuming service and purpose.

No broker library is imported here; the service kit (and any integrator) declares these with
whatever client it uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EXCHANGE = "compressor.events"
"""The one durable topic exchange every event is published to; routing key = EventData.routing_key()."""
EXCHANGE_TYPE = "topic"

DELIVERY_LIMIT = 10
"""x-delivery-limit of every consumer queue: a backstop, consumers dead-letter themselves earlier."""

DEAD_LETTER_MAX_LENGTH = 10_000
"""x-max-length of every dead-letter queue. With `x-overflow: reject-publish` a full dead-letter queue
refuses (nacks) the dead-lettering publish instead of silently dropping its oldest letter: the consumer's
delivery policy sees the refusal, keeps the message in its own queue and logs the overflow alert. Replay
or purge dead letters to make room."""

SERVICES = ("intake", "dispatch", "maintenance", "quality", "reporting", "feedback", "telemetry", "console")
"""Every service with queues of its own; the console (the staff's browser console) only reads events."""

PRODUCERS = SERVICES[:-1]
"""The services that publish events: the six phase services, and telemetry (the machines' own readings)."""

INTEGRATION_ONLY = frozenset({"backup.completed.v1", "backup.failed.v1"})
"""Events no service consumes; published for integrations (monitoring, archive audits)."""


def dead_letter_exchange(service: str) -> str:
    return f"{service}.dead-letter"


def dead_letter_queue(service: str) -> str:
    return f"{service}.dead-letters"


@dataclass(frozen=True)
class QueueSpec:
    """A durable quorum queue of one service for one purpose, bound to the events exchange."""

    name: str
    service: str
    purpose: str
    bindings: tuple[str, ...]
    """Routing-key patterns in topic syntax ('*' one word, '#' zero or more)."""
    description: str

    def __post_init__(self) -> None:
        if self.service not in SERVICES:
            raise ValueError(f"unknown service {self.service!r}")
        if self.name != f"{self.service}.{self.purpose}":
            raise ValueError(f"queue {self.name!r} must be named '{self.service}.{self.purpose}'")
        if not self.bindings:
            raise ValueError(f"queue {self.name!r} has no bindings")

    @property
    def arguments(self) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": dead_letter_exchange(self.service),
            "x-delivery-limit": DELIVERY_LIMIT,
        }

    def receives(self, routing_key: str) -> bool:
        return any(topic_matches(pattern, routing_key) for pattern in self.bindings)


@dataclass(frozen=True)
class ServiceTopology:
    """What one service declares at start-up: its queues, its dead-letter exchange and queue."""

    service: str
    queues: tuple[QueueSpec, ...]
    dead_letter_exchange: str
    """Fanout, durable; every queue of the service dead-letters into it."""
    dead_letter_queue: str
    """Quorum, durable, bound to the dead-letter exchange; holds messages with the error in their headers."""

    exchange: str = EXCHANGE
    exchange_type: str = EXCHANGE_TYPE
    dead_letter_exchange_type: str = "fanout"
    dead_letter_max_length: int = DEAD_LETTER_MAX_LENGTH

    @property
    def dead_letter_queue_arguments(self) -> dict[str, Any]:
        # Queue arguments, so that every declaration (a new vhost, a test) is bounded without a broker
        # policy. A dead-letter queue declared before the limit existed has other arguments and must be
        # drained and deleted once (README, operations): RabbitMQ refuses to redeclare it (PRECONDITION_FAILED).
        return {"x-queue-type": "quorum", "x-max-length": self.dead_letter_max_length, "x-overflow": "reject-publish"}

    def queue(self, purpose: str) -> QueueSpec:
        for spec in self.queues:
            if spec.purpose == purpose:
                return spec
        raise KeyError(f"{self.service} has no queue for {purpose!r}")


def _queue(service: str, purpose: str, bindings: tuple[str, ...], description: str) -> QueueSpec:
    return QueueSpec(f"{service}.{purpose}", service, purpose, bindings, description)


QUEUES: tuple[QueueSpec, ...] = (
    _queue(
        "intake",
        "telemetry",
        ("equipment.service_came_due.v1", "equipment.alarm_raised.v1"),
        "Raises one proactive request per machine, service level and due point, and one corrective "
        "request per alarm episode, with the machine's recent readings for the remote pre-diagnosis.",
    ),
    _queue(
        "intake",
        "customer-file",
        ("job.closed.v1",),
        "Adds the closed job to the equipment's history and updates the next service due; a closed "
        "job is no longer open (cancellation is intake's own event).",
    ),
    _queue(
        "dispatch",
        "job-requests",
        ("job.requested.v1", "job.cancelled.v1"),
        "Matches an engineer to each new job; drops cancelled jobs from scheduling and SLA monitoring.",
    ),
    _queue(
        "dispatch",
        "sla-tracking",
        ("job.engineer_arrived.v1", "job.inspection_passed.v1"),
        "Marks the arrive-by and resolve-by deadlines as met.",
    ),
    _queue(
        "maintenance",
        "work-orders",
        (
            "job.requested.v1",
            "job.assigned.v1",
            "job.prediagnosed.v1",
            "job.inspection_failed.v1",
            "job.inspection_passed.v1",
            "job.cancelled.v1",
        ),
        "Opens the work order once assigned and pre-diagnosed, follows reassignment, reopens it for "
        "rework after a failed inspection, closes it on cancellation. job.requested gives the customer "
        "whose responsible person approves the plan; job.inspection_passed lets the customer accept the "
        "inspected work with a signature.",
    ),
    _queue(
        "quality",
        "inspections",
        ("job.work_completed.v1", "job.cancelled.v1"),
        "Opens an inspection for each completed work round.",
    ),
    _queue(
        "reporting",
        "timeline",
        ("job.#", "customer.#", "customer_file.#"),
        "Every job event, any version, into the job's timeline (read model, KPIs), in one transaction "
        "with what it changes: the maintenance record is built from the stored timeline, "
        "job.inspection_passed makes the report due, job.cancelled abandons it. Unknown versions must be tolerated.",
    ),
    _queue(
        "feedback",
        "notifications",
        (
            "job.requested.v1",
            "job.cancelled.v1",
            "job.sla_at_risk.v1",
            "job.sla_breached.v1",
            "job.inspection_escalated.v1",
            "job.prediagnosed.v1",
            "job.engineer_dispatched.v1",
            "job.progress_reported.v1",
            "job.work_completed.v1",
            "job.inspection_passed.v1",
            "equipment.went_silent.v1",
        ),
        "Alerts management (new request, SLA risk/breach, escalation, a machine gone silent) and tells the "
        "customer of each step (commitment, dispatch and ETA, progress, completion). job.requested also "
        "gives the customer's contact.",
    ),
    _queue(
        "feedback",
        "surveys",
        ("job.report_published.v1",),
        "Sends the report link and the satisfaction survey.",
    ),
    _queue(
        "telemetry",
        "service-history",
        ("customer_file.updated.v1",),
        "A recorded service restarts the calendar count of the machine's service levels.",
    ),
    _queue(
        "console",
        "job-board",
        ("job.#",),
        "Every job event, any version, into the console's job board (phase, priority, customer, "
        "equipment, engineer, SLA state); each replica's open pages follow the board's collection.",
    ),
)


def service_topology(service: str) -> ServiceTopology:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    return ServiceTopology(
        service=service,
        queues=tuple(q for q in QUEUES if q.service == service),
        dead_letter_exchange=dead_letter_exchange(service),
        dead_letter_queue=dead_letter_queue(service),
    )


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: '*' is exactly one word, '#' zero or more words."""

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        head, rest = p[0], p[1:]
        if head == "#":
            return any(match(rest, k[i:]) for i in range(len(k) + 1))
        return bool(k) and (head == "*" or head == k[0]) and match(rest, k[1:])

    return match(pattern.split("."), routing_key.split("."))


def consumers_of(routing_key: str) -> list[tuple[str, str]]:
    """(service, queue name) of every queue a message with this routing key is delivered to."""
    return [(q.service, q.name) for q in QUEUES if q.receives(routing_key)]
