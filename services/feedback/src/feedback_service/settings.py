"""Feedback's own settings (read from the environment like the kit's): mail server, webhooks,
survey lifetime and the public address survey links point at."""

from __future__ import annotations

from pydantic import Field, SecretStr

from compressor_kit.runtime import Runtime
from compressor_kit.settings import Settings


class FeedbackSettings(Settings):
    """The kit's settings plus what only feedback needs. Field names are the env var names."""

    smtp_host: str = Field("127.0.0.1", description="SMTP server for e-mail notifications.")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_username: str = Field("", description="Empty: no SMTP authentication.")
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(10.0, gt=0)
    mail_sender: str = Field("Compressor Service <service@compressor.example>", description="From: of every e-mail.")
    management_emails: str = Field(
        "service-management@compressor.example", description="Comma-separated management recipients."
    )

    webhook_timeout_seconds: float = Field(5.0, gt=0, description="Per webhook POST.")

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
    public_base_url: str = Field(
        "http://127.0.0.1:8006", description="Where customers reach feedback; survey links start with it."
    )
    report_link_ttl_hours: float = Field(7 * 24, gt=0, le=7 * 24, description="Life of the report download link.")

    def management_recipients(self) -> list[str]:
        return [address.strip() for address in self.management_emails.split(",") if address.strip()]


FeedbackRuntime = Runtime[FeedbackSettings]
