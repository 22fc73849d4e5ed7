"""Feedback's own settings (read from the environment like the kit's): mail server, webhooks,
survey lifetime, the public address survey links point at and the portal report links lead to."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator

from compressor_kit.runtime import Runtime
from compressor_kit.settings import Settings

# The console's address where `make run` serves it: the portal, for a developer with no configuration.
LOCAL_PORTAL_URL = "http://127.0.0.1:8000"
REFUSAL = "refusing to start in production: "


class FeedbackSettings(Settings):
    """The kit's settings plus what only feedback needs. Field names are the env var names."""

    smtp_host: str = Field("127.0.0.1", description="SMTP server for e-mail notifications.")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_username: str = Field("", description="Empty: no SMTP authentication.")
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = Field(
        False, description="Upgrade with STARTTLS, verifying the server's certificate and host name (never unverified)."
    )
    smtp_ca_file: str = Field(
        "", description="PEM file of a private CA that signs the SMTP server's certificate; empty: the system's CAs."
    )
    smtp_timeout_seconds: float = Field(10.0, gt=0)
    mail_sender: str = Field("Compressor Service <service@compressor.example>", description="From: of every e-mail.")
    management_emails: str = Field(
        "service-management@compressor.example", description="Comma-separated management recipients."
    )

    webhook_timeout_seconds: float = Field(5.0, gt=0, description="Per webhook POST.")
    webhook_allow_internal_hosts: bool = Field(
        False,
        description="Local and test only (ignored in production): webhooks may use http and loopback or private "
        "addresses. Otherwise a webhook must be https to a public address, checked at registration and delivery.",
    )

    delivery_interval_seconds: float = Field(1.0, gt=0, description="How often the delivery worker looks for work.")
    delivery_retry_base_seconds: float = Field(30.0, gt=0, description="First retry delay; doubles per attempt.")
    delivery_retry_max_seconds: float = Field(3600.0, gt=0, description="Longest delay between two attempts.")
    delivery_max_attempts: int = Field(12, ge=1, le=1000, description="After this many failures: given up.")
    delivery_concurrency: int = Field(
        8, ge=1, le=64, description="Notifications one replica sends at once (sending waits on I/O)."
    )
    delivery_lease_seconds: float = Field(120.0, gt=0, description="A claimed delivery is retried after this.")

    survey_ttl_hours: float = Field(14 * 24, gt=0, description="How long a survey can be answered.")
    survey_expiry_interval_seconds: float = Field(60.0, gt=0, description="How often expired surveys are closed.")
    survey_low_csat: int = Field(2, ge=1, le=5, description="CSAT at or below this is a low score.")
    survey_low_nps: int = Field(6, ge=0, le=10, description="NPS at or below this (a detractor) is a low score.")
    survey_requests_per_address_per_minute: int = Field(
        30, ge=1, le=10_000, description="Requests one address may make to the survey pages (/surveys/...) per minute."
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8006", description="Where customers reach feedback; survey links start with it."
    )
    portal_url: str = Field(
        "",
        description="The customer portal (the console's public URL): the report link in an e-mail leads to "
        "PORTAL_URL/portal/jobs/{job_id}/report, which presigns a fresh download on each click. Empty: the local "
        f"console ({LOCAL_PORTAL_URL}) in local and test environments; production refuses to start without it.",
    )
    customer_time_zone: str = Field(
        "Asia/Kuala_Lumpur", description="The time zone of the times written in customers' messages and pages."
    )

    @field_validator("customer_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    def webhooks_may_reach_internal_hosts(self) -> bool:
        return self.webhook_allow_internal_hosts and self.development

    def management_recipients(self) -> list[str]:
        return [address.strip() for address in self.management_emails.split(",") if address.strip()]

    def portal_base(self) -> str:
        """Where the customer portal is reached, without a trailing slash."""
        if self.portal_url:
            return self.portal_url.rstrip("/")
        if self.development:
            return LOCAL_PORTAL_URL
        raise RuntimeError("PORTAL_URL is not set")

    def report_link(self, job_id: str) -> str:
        """The report's link in a customer's message: the portal's page, which never expires for its owner."""
        return f"{self.portal_base()}/portal/jobs/{job_id}/report"

    def portal_survey_link(self, job_id: str) -> str:
        """The survey in the portal, for a customer who would rather sign in than follow the token link."""
        return f"{self.portal_base()}/portal/jobs/{job_id}/survey"

    def time_zone(self) -> ZoneInfo:
        return ZoneInfo(self.customer_time_zone)

    def check_production(self) -> None:
        """The kit's refusals, a CA file that exists, and in production a portal address (without it every
        report link would lead nowhere) and no SMTP password sent in clear."""
        if self.smtp_ca_file and not Path(self.smtp_ca_file).is_file():
            raise RuntimeError(f"refusing to start: SMTP_CA_FILE {self.smtp_ca_file} is not a readable file")
        if self.development:
            super().check_production()
            return
        problems = []
        if self.smtp_username and not self.smtp_starttls:
            problems.append("SMTP_USERNAME is set without SMTP_STARTTLS (the password would cross in clear)")
        if not self.portal_url.startswith("https://"):
            problems.append("PORTAL_URL must be the customer portal's https URL (report links lead there)")
        try:
            super().check_production()
        except RuntimeError as refusal:
            problems.insert(0, str(refusal).removeprefix(REFUSAL))
        if problems:
            raise RuntimeError(REFUSAL + "; ".join(problems))


FeedbackRuntime = Runtime[FeedbackSettings]
