"""Composition root of the quality service: everything it serves, consumes and stores, wired once."""

from compressor_kit.runtime import ServiceDefinition
from quality_service.inspections import api as inspections_api
from quality_service.inspections import consumers as inspections_consumers
from quality_service.inspections import store as inspections_store
from quality_service.settings import QualitySettings
from quality_service.templates import api as templates_api

SERVICE = ServiceDefinition(
    name="quality",
    default_port=8004,
    description="Phase 6: quality inspection against performance-indicator limits, with the rework loop.",
    settings_type=QualitySettings,
    route_handlers=[*inspections_api.ROUTES, *templates_api.ROUTES],
    consumers=[inspections_consumers.consumers],
    indexes=inspections_store.INDEXES,
)
