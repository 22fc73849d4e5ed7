"""The delivery worker: a periodic job that claims due notifications, sends them over their channel,
and records the outcome. A notification is claimed (atomically, with a lease) before it is sent, so
two replicas never send the same one; a failure is retried with exponential backoff; a success is
marked delivered and announced (`customer.notified`, and `job.survey_sent` for the survey) in one
transaction. Only a worker dying between send and mark can repeat a message (after the lease); the
Message-ID / notification id header lets the receiver recognise it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from compressor_contracts.common import NotificationChannel
from compressor_contracts.events.feedback import CustomerNotified, JobSurveySent
from compressor_kit.outbox import UnitOfWork
from feedback_service.notifications import store as notifications
from feedback_service.notifications.channels import DeliveryFailed, send_email, send_webhook
from feedback_service.notifications.domain import (
    Audience,
    DeliveryStatus,
    Notification,
    Webhook,
    retry_delay,
    shown_recipient,
)
from feedback_service.notifications.webhook_target import redacted
from feedback_service.settings import FeedbackRuntime, FeedbackSettings
from feedback_service.surveys import store as surveys
from feedback_service.surveys.domain import Survey
from feedback_service.templates import render_message

log = logging.getLogger(__name__)

BATCH = 200  # per round; the next round follows after DELIVERY_INTERVAL_SECONDS


class Subscriptions:
    """Customers' webhooks as one delivery round reads them: each customer's once per round."""

    def __init__(self, runtime: FeedbackRuntime) -> None:
        self.runtime = runtime
        self._known: dict[str, Webhook | None] = {}

    async def of(self, customer_id: str) -> Webhook | None:
        if customer_id not in self._known:
            self._known[customer_id] = await notifications.webhook_of(self.runtime, customer_id)
        return self._known[customer_id]


async def deliver_due_notifications(runtime: FeedbackRuntime) -> int:
    """One round of the worker: deliver what is due now, several at a time (each send mostly waits on
    the mail server or the webhook receiver), looking again while there was some; the number of
    notifications handled."""
    settings = runtime.settings
    lease = timedelta(seconds=settings.delivery_lease_seconds)
    subscriptions = Subscriptions(runtime)
    handled = 0

    async def sender(due: Iterator[str]) -> None:
        nonlocal handled
        for notification_id in due:  # shared: each id goes to one sender
            claimed = await notifications.claim(runtime, notification_id, runtime.clock.now(), lease)
            if claimed is not None:  # else another replica took it meanwhile
                handled += 1
                await deliver(runtime, subscriptions, claimed)

    while handled < BATCH:
        due = await notifications.due_ids(runtime, runtime.clock.now(), BATCH - handled)
        if not due:
            break
        before = handled
        shared = iter(due)
        await asyncio.gather(*(sender(shared) for _ in range(min(settings.delivery_concurrency, len(due)))))
        if handled == before:
            break  # every one was taken by another replica
    return handled


async def deliver(runtime: FeedbackRuntime, subscriptions: Subscriptions, notification: Notification) -> None:
    settings = runtime.settings
    context = dict(notification.context)
    token = None
    survey = None
    if notification.survey_id:
        survey = await surveys.survey_by_id(runtime, notification.survey_id)
        token = await surveys.add_token(runtime, survey.survey_id) if survey else None
        if survey is None or token is None:
            await notifications.finish(runtime, notification, DeliveryStatus.WITHDRAWN, "the survey is no longer open")
            return
        context |= {
            "survey_url": survey_url(settings, token),
            "survey_expires_at": survey.expires_at.isoformat(),
            # The portal's page of the report, not a presigned download: it never expires for its owner.
            "report_url": settings.report_link(notification.customer_job_id),
            "portal_survey_url": settings.portal_survey_link(notification.customer_job_id),
        }
    try:
        subject, text = render_message(notification.template, context, notification.language, settings.time_zone())
        await send(settings, subscriptions, notification, subject, text)
    except Exception as exc:
        if survey is not None and token:
            await surveys.drop_token(runtime, survey.survey_id, token)
        await _failed(runtime, notification, exc)
        return
    await runtime.outbox.transact(lambda uow: _delivered(uow, notification, subject, runtime.clock.now(), survey))


def survey_url(settings: FeedbackSettings, token: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/surveys/{token}"


async def send(
    settings: FeedbackSettings, subscriptions: Subscriptions, notification: Notification, subject: str, text: str
) -> None:
    if notification.channel is NotificationChannel.EMAIL:
        await send_email(
            settings,
            to=notification.recipient,
            subject=subject,
            body=text,
            notification_id=notification.notification_id,
            language=notification.language.value,
        )
        return
    customer_id = notification.customer_id
    webhook = await subscriptions.of(customer_id)
    if webhook is None or webhook.url != notification.recipient:
        raise DeliveryFailed(f"customer {customer_id} no longer has a webhook at {redacted(notification.recipient)}")
    payload: dict[str, Any] = {
        "notification_id": notification.notification_id,
        "job_id": notification.customer_job_id,
        "about_event": notification.about_event,
        "about_event_id": notification.about_event_id,
        "template": notification.template,
        "language": notification.language.value,  # what subject and text are written in
        "subject": subject,
        "text": text,
        "data": notification.context["event"],
    }
    await send_webhook(
        settings, url=webhook.url, secret=webhook.secret, payload=payload, notification_id=notification.notification_id
    )


async def _failed(runtime: FeedbackRuntime, notification: Notification, exc: Exception) -> None:
    settings = runtime.settings
    attempts = notification.attempts
    error = str(exc)[:500] or type(exc).__name__
    log.warning("notification %s attempt %d failed: %s", notification.notification_id, attempts, error)
    if attempts >= settings.delivery_max_attempts:
        await notifications.finish(runtime, notification, DeliveryStatus.FAILED, error)
        return
    delay = retry_delay(attempts, settings.delivery_retry_base_seconds, settings.delivery_retry_max_seconds)
    await notifications.retry_later(runtime, notification, runtime.clock.now() + delay, error)


async def _delivered(
    uow: UnitOfWork, notification: Notification, subject: str, now: datetime, survey: Survey | None
) -> None:
    if not await notifications.mark_delivered(uow, notification, subject, now):
        return
    if notification.audience is not Audience.CUSTOMER or notification.channel is None:
        return
    await uow.publish(
        CustomerNotified(
            job_id=notification.customer_job_id,
            notification_id=notification.notification_id,
            channel=notification.channel,
            recipient=shown_recipient(notification.channel, notification.recipient),
            about_event=notification.about_event,
            about_event_id=notification.about_event_id,
            template=notification.template,
            attempts=notification.attempts,
        ),
        correlation_id=notification.correlation_id,
    )
    if survey is not None and await surveys.mark_sent(uow, survey.survey_id, now):
        await uow.publish(
            JobSurveySent(
                job_id=notification.customer_job_id,
                survey_id=survey.survey_id,
                channel=notification.channel,
                expires_at=survey.expires_at,
                record_id=survey.record_id,
                record_version=survey.record_version,
            ),
            correlation_id=notification.correlation_id,
        )
