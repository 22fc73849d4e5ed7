"""Quality's own settings, on top of the kit's (field names are the environment variable names).

Declared in the service definition (`settings_type`): handlers read them typed, as
`QualityRuntime.settings`.
"""

from __future__ import annotations

from pydantic import Field

from compressor_kit.runtime import Runtime
from compressor_kit.settings import Settings


class QualitySettings(Settings):
    quality_escalation_failed_rounds: int = Field(
        3,
        ge=1,
        le=100,
        description="Failed inspection rounds of one job after which management is alerted "
        "(job.inspection_escalated), and again on every further failed round.",
    )


QualityRuntime = Runtime[QualitySettings]
"""The running quality service."""
