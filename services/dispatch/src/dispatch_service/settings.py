"""Dispatch's own settings on top of the kit's: the SLA policy, the SLA monitor and scheduling.
The composition root (`app.py`) declares them; handlers read them typed from `DispatchRuntime`.

Every field is an environment variable of the same name (upper-cased); the dict fields take JSON,
e.g. `SLA_ARRIVE_WITHIN_HOURS='{"critical": 4, "high": 8, "normal": 24, "low": 72}'`.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from compressor_contracts import Priority
from compressor_kit.runtime import Runtime
from compressor_kit.settings import Settings


def _every_priority(value: dict[str, float]) -> dict[str, float]:
    missing = [p.value for p in Priority if p.value not in value]
    if missing:
        raise ValueError(f"a target is needed for every priority; missing: {', '.join(missing)}")
    unknown = [k for k in value if k not in {p.value for p in Priority}]
    if unknown:
        raise ValueError(f"unknown priorities: {', '.join(unknown)}")
    if any(hours <= 0 for hours in value.values()):
        raise ValueError("targets must be positive hours")
    return value


class DispatchSettings(Settings):
    sla_arrive_within_hours: dict[str, float] = Field(
        default_factory=lambda: {"critical": 4.0, "high": 8.0, "normal": 24.0, "low": 72.0},
        description="SLA policy: latest arrival on site after the request, per priority (hours).",
    )
    sla_resolve_within_hours: dict[str, float] = Field(
        default_factory=lambda: {"critical": 24.0, "high": 48.0, "normal": 120.0, "low": 240.0},
        description="SLA policy: latest resolution (inspection passed) after the request, per priority (hours).",
    )
    sla_at_risk_fraction: float = Field(
        0.75, gt=0, lt=1, description="Share of the time to a deadline after which the job is at risk."
    )
    sla_monitor_interval_seconds: float = Field(30.0, gt=0, description="How often the SLA monitor runs.")
    dispatch_visit_minutes: int = Field(120, ge=15, le=24 * 60, description="Length of a scheduled visit slot.")
    dispatch_manual_horizon_days: int = Field(
        14, ge=1, le=90, description="How far ahead a manual assignment looks for the engineer's free slot."
    )
    dispatch_seed_engineers: bool = Field(True, description="Load the demo engineers of seed/engineers.json.")

    _check_arrive = field_validator("sla_arrive_within_hours")(_every_priority)
    _check_resolve = field_validator("sla_resolve_within_hours")(_every_priority)


DispatchRuntime = Runtime[DispatchSettings]
