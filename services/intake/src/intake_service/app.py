"""Composition root of the intake service: everything it serves, consumes and stores, wired once."""

from compressor_kit import rate_limits
from compressor_kit.periodic import periodic
from compressor_kit.runtime import ServiceDefinition
from intake_service.callbacks import api as callbacks_api
from intake_service.callbacks import store as callbacks_store
from intake_service.catalogue import api as catalogue_api
from intake_service.customer_file import api as customer_file_api
from intake_service.customer_file import consumers as customer_file_consumers
from intake_service.customer_file import store as customer_file_store
from intake_service.fault_reports import api as fault_reports_api
from intake_service.fault_reports import store as fault_reports_store
from intake_service.labels import api as labels_api
from intake_service.labels.store import label_every_unit
from intake_service.machine_requests import consumers as machine_requests_consumers
from intake_service.proactive import api as proactive_api
from intake_service.proactive.scheduler import proactive_scheduler
from intake_service.requests import api as requests_api
from intake_service.requests import store as requests_store
from intake_service.requests.photos import REQUEST_PHOTOS
from intake_service.settings import IntakeSettings

SERVICE = ServiceDefinition(
    name="intake",
    default_port=8001,
    description="Phase 1 and 9: service requests from every channel, proactive maintenance, and the customer file.",
    settings_type=IntakeSettings,
    route_handlers=[
        *catalogue_api.ROUTES,
        *customer_file_api.ROUTES,
        *requests_api.ROUTES,
        *callbacks_api.ROUTES,
        *proactive_api.ROUTES,
        *labels_api.ROUTES,
        *fault_reports_api.ROUTES,
    ],
    consumers=[customer_file_consumers.consumers, machine_requests_consumers.consumers],
    buckets=[REQUEST_PHOTOS],
    indexes={
        **customer_file_store.INDEXES,
        **requests_store.INDEXES,
        **callbacks_store.INDEXES,
        **fault_reports_store.INDEXES,
        **rate_limits.INDEXES,
    },
    background_jobs=[
        periodic(lambda settings: settings.proactive_scan_interval_seconds, proactive_scheduler),
        label_every_unit,
    ],
)
