"""Intake's own settings on top of the kit's (field names are the environment variable names)."""

from __future__ import annotations

from pydantic import Field

from compressor_kit.runtime import Runtime
from compressor_kit.settings import Settings


class IntakeSettings(Settings):
    proactive_scan_interval_seconds: float = Field(
        3600.0, gt=0, description="How often the proactive maintenance scheduler looks for equipment due for service."
    )
    proactive_lead_days: int = Field(
        14, ge=0, le=180, description="Raise the proactive request this many days before the calendar due date."
    )
    console_public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Where people reach the console (the same variable as the console's): a machine's QR label "
        "opens CONSOLE_PUBLIC_URL/m/{label_id}.",
    )
    fault_reports_per_machine_per_hour: int = Field(
        3, ge=1, le=1000, description="Fault reports taken from a machine's label page per hour, per machine."
    )

    def check_production(self) -> None:
        super().check_production()
        if self.environment == "production" and not self.console_public_url.startswith("https://"):
            raise RuntimeError("refusing to start in production: CONSOLE_PUBLIC_URL must be the console's https URL")


IntakeRuntime = Runtime[IntakeSettings]
"""The running intake service, its settings typed."""
