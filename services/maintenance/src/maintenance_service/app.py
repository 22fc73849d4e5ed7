"""Composition root of the maintenance service: everything it serves, consumes and stores, wired once."""

from compressor_kit.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="maintenance",
    default_port=8003,
    description="Phases 3-5: on-site diagnosis, maintenance plan, execution with customer progress, and rework.",
)
