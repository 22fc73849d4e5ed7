"""Events published by feedback: customer communication, survey (phase 8), review and close (phase 9)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar, Self

from pydantic import AwareDatetime, Field, model_validator

from compressor_contracts.common import (
    ContractModel,
    Identifier,
    LongText,
    NotificationChannel,
    RoutingKey,
    ServiceOutcome,
    ShortText,
    StaffMember,
    StoredObject,
    Text,
)
from compressor_contracts.envelope import JobEventData

Csat = Annotated[int, Field(ge=1, le=5)]
Nps = Annotated[int, Field(ge=0, le=10)]


class SurveyAnswerSource(StrEnum):
    FORM = "form"
    API = "api"
    PORTAL = "portal"
    """Answered by a signed-in customer in the customer portal."""


class SurveyStatus(StrEnum):
    ANSWERED = "answered"
    EXPIRED = "expired"


class FollowUpKind(StrEnum):
    PROACTIVE_VISIT = "proactive_visit"
    PART_REPLACEMENT = "part_replacement"
    CUSTOMER_TRAINING = "customer_training"
    MONITORING = "monitoring"
    OTHER = "other"


class FollowUp(ContractModel):
    """An action the review decided on."""

    kind: FollowUpKind = Field(description="Kind of action; intake can schedule a proactive visit from it.")
    description: Text = Field(description="What to do.")
    due_on: date | None = Field(default=None, description="When it should be done, if agreed.")


class CustomerNotified(JobEventData):
    """A notification about the job was delivered to the customer (sent once per event and channel)."""

    name: ClassVar[str] = "customer.notified"
    producer: ClassVar[str] = "feedback"
    phase: ClassVar[int | None] = None

    notification_id: Identifier = Field(description="Notification id in feedback.")
    channel: NotificationChannel = Field(description="Channel used.")
    recipient: Text = Field(
        description="E-mail address it was delivered to, or the webhook's scheme://host only (its path may carry "
        "the receiver's secret)."
    )
    about_event: RoutingKey = Field(description="Routing key of the event the notification is about.")
    about_event_id: ShortText = Field(description="Id of that event.")
    template: Identifier = Field(description="Message template used.")
    attempts: int = Field(ge=1, le=1000, description="Delivery attempts it took.")


class JobSurveySent(JobEventData):
    """The customer received the report link and a satisfaction survey."""

    name: ClassVar[str] = "job.survey_sent"
    producer: ClassVar[str] = "feedback"
    phase: ClassVar[int | None] = 8

    survey_id: Identifier = Field(description="Survey id (not its secret token).")
    channel: NotificationChannel = Field(description="Channel it was sent over.")
    expires_at: AwareDatetime = Field(description="After this the survey cannot be answered.")
    record_id: Identifier = Field(description="The maintenance record the survey is about.")
    record_version: int = Field(ge=1, le=1000, description="Record version sent.")


class JobFeedbackReceived(JobEventData):
    """The customer answered the satisfaction survey (one answer per survey)."""

    name: ClassVar[str] = "job.feedback_received"
    producer: ClassVar[str] = "feedback"
    phase: ClassVar[int | None] = 8

    survey_id: Identifier = Field(description="Survey id.")
    csat: Csat = Field(description="Customer satisfaction, 1 (very dissatisfied) to 5 (very satisfied).")
    nps: Nps = Field(description="Likelihood to recommend, 0 to 10.")
    comments: LongText | None = Field(default=None, description="The customer's comments.")
    answered_via: SurveyAnswerSource = Field(
        description="The survey link's HTML form, its API, or the customer portal."
    )
    low_score: bool = Field(description="Below the configured threshold: management alerted, review urgent.")


class JobReviewed(JobEventData):
    """The internal review memo was recorded."""

    name: ClassVar[str] = "job.reviewed"
    producer: ClassVar[str] = "feedback"
    phase: ClassVar[int | None] = 9

    reviewer: StaffMember = Field(description="Engineer or manager who wrote the review.")
    memo: LongText = Field(description="What was done and how it went.")
    lessons: list[Text] = Field(default=[], max_length=50, description="Lessons learned.")
    follow_ups: list[FollowUp] = Field(default=[], max_length=50, description="Follow-up actions.")
    urgent: bool = Field(default=False, description="Marked urgent (after a low satisfaction score).")


class JobClosed(JobEventData):
    """The job is closed: reviewed, and the survey answered or expired. Carries what the customer
    file needs for the equipment's history."""

    name: ClassVar[str] = "job.closed"
    producer: ClassVar[str] = "feedback"
    phase: ClassVar[int | None] = 9

    outcome: ServiceOutcome = Field(description="What was done (from the published record).")
    record_id: Identifier = Field(description="Maintenance record id.")
    record_version: int = Field(ge=1, le=1000, description="Latest record version.")
    report: StoredObject = Field(description="The report PDF.")
    survey_status: SurveyStatus = Field(description="Whether the survey was answered or expired.")
    csat: Csat | None = Field(default=None, description="CSAT 1-5; set exactly when the survey was answered.")
    nps: Nps | None = Field(default=None, description="NPS 0-10; set exactly when the survey was answered.")
    follow_ups: list[FollowUp] = Field(default=[], max_length=50, description="Follow-ups from the review.")

    @model_validator(mode="after")
    def _scores_when_answered(self) -> Self:
        answered = self.survey_status is SurveyStatus.ANSWERED
        if answered != (self.csat is not None and self.nps is not None):
            raise ValueError("csat and nps are set exactly when the survey was answered")
        return self
