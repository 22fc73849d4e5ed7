"""Composition root of the dispatch service: everything it serves, consumes and stores, wired once."""

from compressor_kit.periodic import periodic
from compressor_kit.runtime import ServiceDefinition
from dispatch_service.engineers import api as engineers_api
from dispatch_service.engineers.store import seed_demo_engineers
from dispatch_service.jobs import INDEXES
from dispatch_service.matching import api as matching_api
from dispatch_service.matching.consumers import job_requests_consumer
from dispatch_service.prediagnosis import api as prediagnosis_api
from dispatch_service.sla import api as sla_api
from dispatch_service.sla.consumers import sla_tracking_consumer
from dispatch_service.sla.monitor import check_slas, monitor_interval

SERVICE = ServiceDefinition(
    name="dispatch",
    default_port=8002,
    description="Phases 1-2: engineer matching and scheduling, remote pre-diagnosis and service commitments (SLA).",
    route_handlers=[*engineers_api.ROUTES, *matching_api.ROUTES, *prediagnosis_api.ROUTES, *sla_api.ROUTES],
    consumers=[lambda runtime: [job_requests_consumer(runtime), sla_tracking_consumer(runtime)]],
    indexes=INDEXES,
    background_jobs=[seed_demo_engineers, periodic(monitor_interval, check_slas)],
)
