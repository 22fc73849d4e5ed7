"""Composition root of the dispatch service: everything it serves, consumes and stores, wired once."""

from compressor_kit.periodic import periodic
from compressor_kit.runtime import ServiceDefinition
from dispatch_service.engineers import api as engineers_api
from dispatch_service.engineers import store as engineers_store
from dispatch_service.jobs import api as jobs_api
from dispatch_service.jobs import store as jobs_store
from dispatch_service.matching import api as matching_api
from dispatch_service.matching import consumers as matching_consumers
from dispatch_service.matching import store as matching_store
from dispatch_service.prediagnosis import api as prediagnosis_api
from dispatch_service.settings import DispatchSettings
from dispatch_service.sla import api as sla_api
from dispatch_service.sla import consumers as sla_consumers
from dispatch_service.sla.metrics import sla_metrics
from dispatch_service.sla.monitor import check_slas

SERVICE = ServiceDefinition(
    name="dispatch",
    default_port=8002,
    description="Phases 1-2: engineer matching and scheduling, remote pre-diagnosis and service commitments (SLA).",
    settings_type=DispatchSettings,
    route_handlers=[
        *engineers_api.ROUTES,
        *jobs_api.ROUTES,
        *matching_api.ROUTES,
        *prediagnosis_api.ROUTES,
        *sla_api.ROUTES,
    ],
    consumers=[matching_consumers.consumers, sla_consumers.consumers],
    indexes={**jobs_store.INDEXES, **matching_store.INDEXES, **engineers_store.INDEXES},
    background_jobs=[
        engineers_store.seed_demo_engineers,
        periodic(lambda settings: settings.sla_monitor_interval_seconds, check_slas),
    ],
    metrics=[sla_metrics],
)
