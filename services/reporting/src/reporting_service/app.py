"""Composition root of the reporting service: everything it serves, consumes and stores, wired once."""

from compressor_kit.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="reporting",
    default_port=8005,
    description="Phase 7: maintenance records and reports, job timelines, KPIs, backups and archives.",
)
