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


IntakeRuntime = Runtime[IntakeSettings]
"""The running intake service, its settings typed."""
