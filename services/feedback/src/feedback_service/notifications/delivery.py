"""The delivery worker: a periodic job that claims due notifications, sends them over their channel,
and records the outcome. A notification is claimed (atomically, with a lease) before it is sent, so
two replicas never send the same one; a failure is retried with exponential backoff; a success is
marked delivered and announced (`customer.notified`, and `job.survey_sent` for the survey) in one
transaction. Only a worker dying between send and mark can repeat a message (after the lease); the
Message-ID / notification id header lets the receiver recognise it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument

from compressor_contracts.common import NotificationChannel
from compressor_contracts.events.feedback import CustomerNotified, JobSurveySent
from compressor_kit.outbox import UnitOfWork
from feedback_service.notifications.channels import DeliveryFailed, send_email, send_webhook
from feedback_service.notifications.domain import Audience, DeliveryStatus, retry_delay
from feedback_service.notifications.store import NOTIFICATIONS, WEBHOOKS
from feedback_service.settings import FeedbackSettings, feedback_settings
from feedback_service.surveys.store import SURVEYS, add_token, drop_token
from feedback_service.templates import render_message

log = logging.getLogger(__name__)

BATCH = 200  # per round; the next round follows after DELIVERY_INTERVAL_SECONDS


async def deliver_due_notifications(runtime) -> int:
    """One round of the worker: deliver what is due now, several at a time (each send mostly waits on
    the mail server or the webhook receiver); the number of notifications handled."""
    settings = feedback_settings(runtime.settings)
    handled = 0

    async def sender() -> None:
        nonlocal handled
        while handled < BATCH:
            claimed = await claim_next(runtime.db, runtime.clock.now(), settings)
            if claimed is None:
                return
            handled += 1
            await deliver(runtime, settings, claimed)

    await asyncio.gather(*(sender() for _ in range(settings.delivery_concurrency)))
    return handled


async def claim_next(db, now: datetime, settings: FeedbackSettings) -> dict[str, Any] | None:
    return await db[NOTIFICATIONS].find_one_and_update(
        {
            "$or": [
                {"status": DeliveryStatus.PENDING.value, "next_attempt_at": {"$lte": now}},
                # a worker died mid-send: take it over once its lease ran out
                {"status": DeliveryStatus.SENDING.value, "claimed_until": {"$lte": now}},
            ]
        },
        {
            "$set": {
                "status": DeliveryStatus.SENDING.value,
                "claim": uuid.uuid4().hex,
                "claimed_until": now + timedelta(seconds=settings.delivery_lease_seconds),
            },
            "$inc": {"attempts": 1},
        },
        sort=[("next_attempt_at", 1)],
        return_document=ReturnDocument.AFTER,
    )


async def deliver(runtime, settings: FeedbackSettings, notification: dict[str, Any]) -> None:
    db = runtime.db
    context = dict(notification["context"])
    token = None
    survey = None
    if notification.get("survey_id"):
        survey = await db[SURVEYS].find_one({"_id": notification["survey_id"]})
        token = await add_token(db, survey["_id"]) if survey else None
        if token is None:
            await _finish(db, notification, DeliveryStatus.WITHDRAWN, "the survey is no longer open")
            return
        context |= {
            "survey_url": survey_url(settings, token),
            "survey_expires_at": survey["expires_at"].isoformat(),
            "report_url": await report_url(runtime, settings, survey["report"]),
        }
    try:
        subject, text = render_message(notification["template"], context)
        await send(db, settings, notification, subject, text)
    except Exception as exc:
        if token:
            await drop_token(db, survey["_id"], token)
        await _failed(db, settings, notification, runtime.clock.now(), exc)
        return
    await runtime.outbox.transact(lambda uow: _delivered(uow, notification, subject, runtime.clock.now(), survey))


def survey_url(settings: FeedbackSettings, token: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/surveys/{token}"


async def report_url(runtime, settings: FeedbackSettings, report: dict[str, Any]) -> str:
    """A time-limited download link of the report PDF in reporting's bucket (the bucket's real name)."""
    return await asyncio.to_thread(
        runtime.objects.client.presigned_get_object,
        report["bucket"],
        report["object_key"],
        timedelta(hours=settings.report_link_ttl_hours),
    )


async def send(db, settings: FeedbackSettings, notification: dict[str, Any], subject: str, text: str) -> None:
    if notification["channel"] == NotificationChannel.EMAIL.value:
        await send_email(
            settings, to=notification["recipient"], subject=subject, body=text, notification_id=notification["_id"]
        )
        return
    customer_id = notification["context"]["job"]["customer"]["customer_id"]
    webhook = await db[WEBHOOKS].find_one({"_id": customer_id})
    if webhook is None or webhook["url"] != notification["recipient"]:
        raise DeliveryFailed(f"customer {customer_id} no longer has a webhook at {notification['recipient']}")
    payload = {
        "notification_id": notification["_id"],
        "job_id": notification["job_id"],
        "about_event": notification["about_event"],
        "about_event_id": notification["about_event_id"],
        "template": notification["template"],
        "subject": subject,
        "text": text,
        "data": notification["context"]["event"],
    }
    await send_webhook(
        settings, url=webhook["url"], secret=webhook["secret"], payload=payload, notification_id=notification["_id"]
    )


async def _failed(db, settings: FeedbackSettings, notification: dict[str, Any], now: datetime, exc: Exception) -> None:
    attempts = notification["attempts"]
    error = str(exc)[:500] or type(exc).__name__
    log.warning("notification %s attempt %d failed: %s", notification["_id"], attempts, error)
    if attempts >= settings.delivery_max_attempts:
        await _finish(db, notification, DeliveryStatus.FAILED, error)
        return
    delay = retry_delay(attempts, settings.delivery_retry_base_seconds, settings.delivery_retry_max_seconds)
    await db[NOTIFICATIONS].update_one(
        {"_id": notification["_id"], "claim": notification["claim"]},
        {"$set": {"status": DeliveryStatus.PENDING.value, "next_attempt_at": now + delay, "last_error": error}},
    )


async def _finish(db, notification: dict[str, Any], status: DeliveryStatus, error: str) -> None:
    await db[NOTIFICATIONS].update_one(
        {"_id": notification["_id"], "claim": notification["claim"]},
        {"$set": {"status": status.value, "last_error": error}},
    )


async def _delivered(
    uow: UnitOfWork, notification: dict[str, Any], subject: str, now: datetime, survey: dict[str, Any] | None
) -> None:
    result = await uow.db[NOTIFICATIONS].update_one(
        {"_id": notification["_id"], "claim": notification["claim"], "status": DeliveryStatus.SENDING.value},
        {"$set": {"status": DeliveryStatus.DELIVERED.value, "delivered_at": now, "subject": subject}},
        session=uow.session,
    )
    if result.modified_count != 1 or notification["audience"] != Audience.CUSTOMER.value:
        return
    correlation_id = notification["correlation_id"]
    channel = NotificationChannel(notification["channel"])
    await uow.publish(
        CustomerNotified(
            job_id=notification["job_id"],
            notification_id=notification["_id"],
            channel=channel,
            recipient=notification["recipient"],
            about_event=notification["about_event"],
            about_event_id=notification["about_event_id"],
            template=notification["template"],
            attempts=notification["attempts"],
        ),
        correlation_id=correlation_id,
    )
    if survey is not None:
        first = await uow.db[SURVEYS].update_one(
            {"_id": survey["_id"], "sent_at": None}, {"$set": {"sent_at": now}}, session=uow.session
        )
        if first.modified_count == 1:
            await uow.publish(
                JobSurveySent(
                    job_id=notification["job_id"],
                    survey_id=survey["_id"],
                    channel=channel,
                    expires_at=survey["expires_at"],
                    record_id=survey["record_id"],
                    record_version=survey["record_version"],
                ),
                correlation_id=correlation_id,
            )
