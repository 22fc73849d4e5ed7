"""Feedback's own gauges: notifications waiting to be sent and those that gave up."""

from __future__ import annotations

from feedback_service.notifications import store
from feedback_service.notifications.domain import DeliveryStatus
from feedback_service.settings import FeedbackRuntime

COUNTED = [DeliveryStatus.PENDING, DeliveryStatus.FAILED]


def notification_metrics(runtime: FeedbackRuntime) -> None:
    notifications = runtime.metrics.gauge(
        "compressor_feedback_notifications", "notifications pending or failed (gave up), now", ("status",)
    )

    async def sample() -> None:
        for status, count in (await store.count_by_status(runtime, COUNTED)).items():
            notifications.labels(status.value).set(count)

    runtime.metrics.sample_before_scrape("feedback_notifications", sample)
