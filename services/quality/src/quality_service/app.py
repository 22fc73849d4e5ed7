"""Composition root of the quality service: everything it serves, consumes and stores, wired once."""

from compressor_kit.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="quality",
    default_port=8004,
    description="Phase 6: quality inspection against performance-indicator limits, with the rework loop.",
)
