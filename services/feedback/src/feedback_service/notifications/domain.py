"""Notification rules, pure: who hears of which event (`NOTICES`), over which channel, how a retry is
spaced, how a webhook is signed (and verified by its receiver)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from compressor_contracts import EventData
from compressor_contracts.common import Language, NotificationChannel
from compressor_contracts.events.dispatch import JobEngineerDispatched, JobPrediagnosed, JobSlaAtRisk, JobSlaBreached
from compressor_contracts.events.feedback import JobFeedbackReceived
from compressor_contracts.events.intake import JobRequested
from compressor_contracts.events.maintenance import JobProgressReported, JobWorkCompleted
from compressor_contracts.events.quality import JobInspectionEscalated, JobInspectionPassed
from compressor_contracts.events.reporting import JobReportPublished
from compressor_contracts.events.telemetry import EquipmentWentSilent
from compressor_kit.i18n import DEFAULT_LANGUAGE, parse_language
from feedback_service.notifications.webhook_target import redacted

SIGNATURE_HEADER = "X-Compressor-Signature"
TIMESTAMP_HEADER = "X-Compressor-Timestamp"
NOTIFICATION_ID_HEADER = "X-Compressor-Notification-Id"
SIGNATURE_TOLERANCE_SECONDS = 300  # how old a webhook's timestamp its receiver accepts (see `verify`)


class Audience(StrEnum):
    MANAGEMENT = "management"
    CUSTOMER = "customer"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    """Gave up after the configured number of attempts."""
    WITHDRAWN = "withdrawn"
    """No longer worth sending (job cancelled, survey already closed)."""
    UNDELIVERABLE = "undeliverable"
    """The customer has no channel we can use (webhook preferred but not registered, no e-mail)."""


@dataclass(frozen=True)
class Notice:
    """Who hears of an event, and in which words (the message template)."""

    audience: Audience
    template: str


# Which event produces which notification; the template names are files under templates/messages.
NOTICES: dict[type[EventData], Notice] = {
    JobRequested: Notice(Audience.MANAGEMENT, "management-job-requested"),
    JobSlaAtRisk: Notice(Audience.MANAGEMENT, "management-sla-at-risk"),
    JobSlaBreached: Notice(Audience.MANAGEMENT, "management-sla-breached"),
    JobInspectionEscalated: Notice(Audience.MANAGEMENT, "management-inspection-escalated"),
    JobFeedbackReceived: Notice(Audience.MANAGEMENT, "management-low-satisfaction"),
    JobPrediagnosed: Notice(Audience.CUSTOMER, "customer-service-commitment"),
    JobEngineerDispatched: Notice(Audience.CUSTOMER, "customer-engineer-dispatched"),
    JobProgressReported: Notice(Audience.CUSTOMER, "customer-progress"),
    JobWorkCompleted: Notice(Audience.CUSTOMER, "customer-work-completed"),
    JobInspectionPassed: Notice(Audience.CUSTOMER, "customer-job-completed"),
    JobReportPublished: Notice(Audience.CUSTOMER, "customer-report-and-survey"),
    EquipmentWentSilent: Notice(Audience.MANAGEMENT, "management-equipment-silent"),
}
"""Job events wait for their job (jobs/commands.py); machine events (telemetry's) are about no job and
go to management at once (notifications/machines.py)."""


class Notification(BaseModel):
    """One message about one event to one recipient over one channel, and its delivery state."""

    notification_id: str
    job_id: str | None  # None: about a machine, not a job (management only)
    correlation_id: str | None
    audience: Audience
    channel: NotificationChannel | None  # None: the customer cannot be reached
    recipient: str
    template: str
    about_event: str
    about_event_id: str
    context: dict[str, Any]  # what the template sees: {"job": ..., "event": ...} ({"event": ...} for a machine)
    survey_id: str | None
    status: DeliveryStatus
    attempts: int
    subject: str | None = None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    claim: str | None = None  # the delivery attempt that holds it (status sending)

    @property
    def language(self) -> Language:
        """What the message is written in: the customer contact's preferred language (English for
        management, and for notifications stored before contacts had one)."""
        if self.audience is Audience.MANAGEMENT:
            return DEFAULT_LANGUAGE
        return parse_language(self.context["job"]["contact"].get("language")) or DEFAULT_LANGUAGE

    @property
    def customer_job_id(self) -> str:
        """The job a customer's notification is about: every one is (only management hears of machines)."""
        if self.job_id is None:
            raise ValueError(f"notification {self.notification_id} is about no job")
        return self.job_id

    @property
    def customer_id(self) -> str:
        customer_id: str = self.context["job"]["customer"]["customer_id"]
        return customer_id


class Webhook(BaseModel):
    """A customer's webhook subscription: where its notifications are POSTed and the signing secret."""

    customer_id: str
    url: str
    secret: str
    updated_at: datetime


def shown_recipient(channel: NotificationChannel | None, recipient: str) -> str:
    """The recipient as it may be shown beyond admins and told in events: a webhook's scheme and host only
    (its path or query may carry the receiver's secret)."""
    return redacted(recipient) if channel is NotificationChannel.WEBHOOK else recipient


@dataclass(frozen=True)
class Destination:
    channel: NotificationChannel
    recipient: str


def customer_destination(
    preferred: NotificationChannel, email: str | None, webhook_url: str | None
) -> Destination | None:
    """The customer's preferred channel; e-mail when a preferred webhook is not registered; None when
    the customer cannot be reached (no e-mail, no webhook)."""
    if preferred is NotificationChannel.WEBHOOK and webhook_url:
        return Destination(NotificationChannel.WEBHOOK, webhook_url)
    if email:
        return Destination(NotificationChannel.EMAIL, email)
    if webhook_url:
        return Destination(NotificationChannel.WEBHOOK, webhook_url)
    return None


def needs_webhook(preferred: NotificationChannel, email: str | None) -> bool:
    """Whether the customer's webhook (if any) can matter to where a message goes."""
    return preferred is NotificationChannel.WEBHOOK or not email


def notification_key(event_id: str, audience: Audience, channel: NotificationChannel, recipient: str) -> str:
    """The natural key: one notification per event, recipient and channel, whatever the redeliveries."""
    return f"{event_id}|{audience.value}|{channel.value}|{recipient}"


def notification_id(key: str) -> str:
    # Derived from the key, so that the same event can only ever upsert the same notification.
    return "NTF-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def retry_delay(attempts: int, base_seconds: float, max_seconds: float) -> timedelta:
    """Exponential backoff: base, 2*base, 4*base, ... capped."""
    exponent = min(max(attempts - 1, 0), 30)
    return timedelta(seconds=min(base_seconds * (2**exponent), max_seconds))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over `timestamp.body`, as `sha256=<hex>`: the receiver recomputes it with its secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now_epoch: float,
    tolerance: float = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """What a webhook receiver does: the signature matches and the timestamp is recent (no replays)."""
    try:
        age = abs(now_epoch - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)
