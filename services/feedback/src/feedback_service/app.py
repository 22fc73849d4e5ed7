"""Composition root of the feedback service: everything it serves, consumes and stores, wired once."""

from compressor_kit.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="feedback",
    default_port=8006,
    description="Phases 8-9: customer notifications, satisfaction survey, internal review and closing the job.",
)
