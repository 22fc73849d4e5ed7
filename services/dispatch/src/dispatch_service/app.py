"""Composition root of the dispatch service: everything it serves, consumes and stores, wired once."""

from compressor_kit.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="dispatch",
    default_port=8002,
    description="Phases 1-2: engineer matching and scheduling, remote pre-diagnosis and service commitments (SLA).",
)
