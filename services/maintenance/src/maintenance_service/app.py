"""Composition root of the maintenance service: everything it serves, consumes and stores, wired once."""

from litestar import Router

from compressor_kit.runtime import ServiceDefinition
from maintenance_service.diagnosis import api as diagnosis
from maintenance_service.diagnosis.api import PHOTOS
from maintenance_service.execution import api as execution
from maintenance_service.parts import api as parts
from maintenance_service.parts import store as stock
from maintenance_service.planning import api as planning
from maintenance_service.work_orders import api as work_orders
from maintenance_service.work_orders import store as work_order_store
from maintenance_service.work_orders.consumers import consumers
from maintenance_service.work_orders.domain import Refused

ROUTES = Router(
    path="/",
    route_handlers=[*work_orders.ROUTES, *diagnosis.ROUTES, *planning.ROUTES, *execution.ROUTES, *parts.ROUTES],
    exception_handlers={Refused: work_orders.refused_as_problem},
)

SERVICE = ServiceDefinition(
    name="maintenance",
    default_port=8003,
    description="Phases 3-5: on-site diagnosis, maintenance plan, execution with customer progress, and rework.",
    route_handlers=[ROUTES],
    consumers=[consumers],
    indexes={**work_order_store.INDEXES, **stock.INDEXES},
    buckets=[PHOTOS],
    background_jobs=[stock.seed_stock],
)
