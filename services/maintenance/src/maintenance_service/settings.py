"""Maintenance's settings: the kit's, nothing of its own yet.

Declared in the service definition (`settings_type`) like every service's, so that a setting added
here reaches handlers typed as `runtime.settings.<field>` (`MaintenanceRuntime`).
"""

from __future__ import annotations

from compressor_kit.runtime import Runtime
from compressor_kit.settings import Settings


class MaintenanceSettings(Settings):
    pass


MaintenanceRuntime = Runtime[MaintenanceSettings]
"""The running maintenance service."""
