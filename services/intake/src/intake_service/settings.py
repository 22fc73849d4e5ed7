"""Intake's own settings on top of the kit's (field names are the environment variable names)."""

from __future__ import annotations

from functools import cache

from pydantic import Field

from compressor_kit.settings import Settings


class IntakeSettings(Settings):
    proactive_scan_interval_seconds: float = Field(
        3600.0, gt=0, description="How often the proactive maintenance scheduler looks for equipment due for service."
    )
    proactive_lead_days: int = Field(
        14, ge=0, le=180, description="Raise the proactive request this many days before the calendar due date."
    )


def intake_settings(settings: Settings) -> IntakeSettings:
    """The runtime's settings as IntakeSettings: tests pass IntakeSettings to create_app; the kit's
    `run` builds plain Settings, so the extra fields are then read from the environment (once)."""
    return settings if isinstance(settings, IntakeSettings) else _from_environment()


@cache
def _from_environment() -> IntakeSettings:
    return IntakeSettings()
