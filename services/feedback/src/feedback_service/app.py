"""Composition root of the feedback service: everything it serves, consumes and stores, wired once."""

from compressor_kit import rate_limits
from compressor_kit.periodic import periodic
from compressor_kit.runtime import ServiceDefinition
from feedback_service.jobs import api as jobs_api
from feedback_service.jobs.store import JOB_INDEXES
from feedback_service.notifications import api as notifications_api
from feedback_service.notifications import consumers as notification_consumers
from feedback_service.notifications.delivery import deliver_due_notifications
from feedback_service.notifications.metrics import notification_metrics
from feedback_service.notifications.store import NOTIFICATION_INDEXES
from feedback_service.review import api as review_api
from feedback_service.settings import FeedbackSettings
from feedback_service.surveys import api as surveys_api
from feedback_service.surveys import consumers as survey_consumers
from feedback_service.surveys.commands import expire_due_surveys
from feedback_service.surveys.store import SURVEY_INDEXES

SERVICE = ServiceDefinition(
    name="feedback",
    default_port=8006,
    description="Phases 8-9: customer notifications, satisfaction survey, internal review and closing the job.",
    settings_type=FeedbackSettings,
    route_handlers=[*notifications_api.ROUTES, *surveys_api.ROUTES, *review_api.ROUTES, *jobs_api.ROUTES],
    consumers=[notification_consumers.consumers, survey_consumers.consumers],
    indexes={**JOB_INDEXES, **NOTIFICATION_INDEXES, **SURVEY_INDEXES, **rate_limits.INDEXES},
    background_jobs=[
        periodic(lambda settings: settings.delivery_interval_seconds, deliver_due_notifications),
        periodic(lambda settings: settings.survey_expiry_interval_seconds, expire_due_surveys),
    ],
    metrics=[notification_metrics],
)
