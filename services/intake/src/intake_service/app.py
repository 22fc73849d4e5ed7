"""Composition root of the intake service: everything it serves, consumes and stores, wired once."""

from compressor_kit.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="intake",
    default_port=8001,
    description="Phase 1 and 9: service requests from every channel, proactive maintenance, and the customer file.",
)
