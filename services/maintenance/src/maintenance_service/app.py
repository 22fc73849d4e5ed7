"""Composition root of the maintenance service: everything it serves, consumes and stores, wired once."""

from compressor_kit.runtime import ServiceDefinition
from maintenance_service.diagnosis import api as diagnosis
from maintenance_service.diagnosis.api import PHOTOS
from maintenance_service.execution import api as execution
from maintenance_service.parts import api as parts
from maintenance_service.parts import store as stock
from maintenance_service.planning import api as planning
from maintenance_service.settings import MaintenanceSettings
from maintenance_service.signatures import api as signatures
from maintenance_service.signatures.images import SIGNATURES
from maintenance_service.work_orders import api as work_orders
from maintenance_service.work_orders import consumers as work_order_consumers
from maintenance_service.work_orders import store as work_order_store

SERVICE = ServiceDefinition(
    name="maintenance",
    default_port=8003,
    description="Phases 3-5: on-site diagnosis, maintenance plan, execution with customer progress, and rework; "
    "the customer's signatures.",
    settings_type=MaintenanceSettings,
    route_handlers=[
        *work_orders.ROUTES,
        *diagnosis.ROUTES,
        *planning.ROUTES,
        *execution.ROUTES,
        *signatures.ROUTES,
        *parts.ROUTES,
    ],
    consumers=[work_order_consumers.consumers],
    indexes={**work_order_store.INDEXES, **stock.INDEXES},
    buckets=[PHOTOS, SIGNATURES],
    background_jobs=[stock.seed_stock],
)
