"""MongoDB access for the MQTT intake: the lease that lets one replica at a time hold its session."""

from __future__ import annotations

from compressor_kit.lease import Lease
from telemetry_service.settings import TelemetryRuntime

LEASES = "leases"


def intake_lease(runtime: TelemetryRuntime, seconds: float) -> Lease:
    return Lease(runtime.db[LEASES], "mqtt-intake", seconds=seconds)
