"""The quality service's own configuration, from the environment (the kit's Settings hold the shared part)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class InspectionPolicy(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUALITY_", case_sensitive=False, extra="ignore")

    escalation_failed_rounds: int = Field(
        3,
        ge=1,
        le=100,
        description="QUALITY_ESCALATION_FAILED_ROUNDS: failed inspection rounds of one job after which "
        "management is alerted (job.inspection_escalated), and again on every further failed round.",
    )
