"""Stored notifications (one per event, recipient and channel) and customers' webhook subscriptions."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument

from compressor_contracts import CloudEvent
from compressor_contracts.common import NotificationChannel
from compressor_kit.outbox import UnitOfWork
from feedback_service.jobs.domain import Job
from feedback_service.notifications.domain import (
    Audience,
    DeliveryStatus,
    Notice,
    Notification,
    Webhook,
    customer_destination,
    needs_webhook,
    notification_id,
    notification_key,
)
from feedback_service.settings import FeedbackRuntime

NOTIFICATIONS = "notifications"
WEBHOOKS = "webhooks"
KEEP_NOTIFICATIONS = timedelta(days=180)
"""Notifications hold contact details (addresses, names): MongoDB deletes each one 180 days after it was
created once it is settled (delivered, failed, withdrawn, undeliverable; retries end within hours of its
creation). One still pending or being sent is never deleted."""
SETTLED = [
    DeliveryStatus.DELIVERED.value,
    DeliveryStatus.FAILED.value,
    DeliveryStatus.WITHDRAWN.value,
    DeliveryStatus.UNDELIVERABLE.value,
]
NOTIFICATION_INDEXES = {
    NOTIFICATIONS: [
        IndexModel([("key", ASCENDING)], name="one_per_event_recipient_channel", unique=True),
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
        IndexModel([("job_id", ASCENDING), ("created_at", ASCENDING)], name="by_job"),
        IndexModel(
            [("created_at", ASCENDING)],
            name="expire_settled",
            expireAfterSeconds=int(KEEP_NOTIFICATIONS.total_seconds()),
            partialFilterExpression={"status": {"$in": SETTLED}},
        ),
    ],
    WEBHOOKS: [],
}


def _notification(doc: dict[str, Any]) -> Notification:
    return Notification.model_validate({**doc, "notification_id": doc["_id"]})


def _webhook(doc: dict[str, Any]) -> Webhook:
    return Webhook.model_validate({**doc, "customer_id": doc["_id"]})


# --- Storing what an event causes ------------------------------------------------------------------


async def enqueue(
    uow: UnitOfWork,
    *,
    job: Job | None,
    event: CloudEvent[Any],
    notice: Notice,
    now: datetime,
    management_recipients: list[str],
    survey_id: str | None = None,
) -> list[str]:
    """Store the notifications `event` causes, pending delivery; ids of those stored. Without a job (an
    event about a machine), only management's.

    Upserts on the natural key: a redelivered or replayed event finds its notifications and adds nothing.
    """
    destinations: list[tuple[NotificationChannel | None, str]]
    if notice.audience is Audience.MANAGEMENT:
        destinations = [(NotificationChannel.EMAIL, address) for address in management_recipients]
    elif job is None:
        raise ValueError(f"{notice.template}: a customer is told only of a job's events")
    else:
        contact = job.contact
        webhook = None
        if needs_webhook(contact.preferred_channel, contact.email):
            found = await uow.db[WEBHOOKS].find_one({"_id": job.customer.customer_id}, session=uow.session)
            webhook = found["url"] if found else None
        destination = customer_destination(contact.preferred_channel, contact.email, webhook)
        destinations = [(destination.channel, destination.recipient)] if destination else [(None, "")]
    stored = []
    for channel, recipient in destinations:
        key = notification_key(event.id, notice.audience, channel or NotificationChannel.EMAIL, recipient)
        nid = notification_id(key)
        reachable = channel is not None
        await uow.db[NOTIFICATIONS].update_one(
            {"key": key},
            {
                "$setOnInsert": {
                    "_id": nid,
                    "key": key,
                    "job_id": job.job_id if job else None,
                    "correlation_id": (job.correlation_id if job else None) or event.correlationid,
                    "audience": notice.audience.value,
                    "channel": channel.value if channel else None,
                    "recipient": recipient,
                    "template": notice.template,
                    "about_event": event.routing_key,
                    "about_event_id": event.id,
                    "context": {
                        **({"job": job.context()} if job else {}),
                        "event": event.data.model_dump(mode="json"),
                    },
                    "survey_id": survey_id,
                    "status": (DeliveryStatus.PENDING if reachable else DeliveryStatus.UNDELIVERABLE).value,
                    "last_error": None if reachable else "the customer has no e-mail address and no webhook",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "delivered_at": None,
                }
            },
            upsert=True,
            session=uow.session,
        )
        stored.append(nid)
    return stored


async def withdraw_pending(uow: UnitOfWork, job_id: str, reason: str) -> None:
    """Stop sending what is still waiting for a job (cancelled job)."""
    await uow.db[NOTIFICATIONS].update_many(
        {"job_id": job_id, "audience": Audience.CUSTOMER.value, "status": DeliveryStatus.PENDING.value},
        {"$set": {"status": DeliveryStatus.WITHDRAWN.value, "last_error": reason}},
        session=uow.session,
    )


async def notifications_of_job(
    runtime: FeedbackRuntime, job_id: str, *, limit: int, offset: int
) -> tuple[list[Notification], int]:
    """One page of the job's notifications, oldest first, and how many there are."""
    query = {"job_id": job_id}
    total = await runtime.db[NOTIFICATIONS].count_documents(query)
    cursor = runtime.db[NOTIFICATIONS].find(query).sort([("created_at", 1), ("_id", 1)]).skip(offset).limit(limit)
    return [_notification(doc) async for doc in cursor], total


# --- Delivery ----------------------------------------------------------------------------------------


def _claimable(now: datetime) -> dict[str, Any]:
    return {
        "$or": [
            {"status": DeliveryStatus.PENDING.value, "next_attempt_at": {"$lte": now}},
            # a worker died mid-send: take it over once its lease ran out
            {"status": DeliveryStatus.SENDING.value, "claimed_until": {"$lte": now}},
        ]
    }


async def due_ids(runtime: FeedbackRuntime, now: datetime, limit: int) -> list[str]:
    """The notifications that can be claimed now, longest due first (ids only: each is claimed by id)."""
    cursor = runtime.db[NOTIFICATIONS].find(_claimable(now), {"_id": 1}).sort("next_attempt_at", 1).limit(limit)
    return [doc["_id"] async for doc in cursor]


async def claim(runtime: FeedbackRuntime, notification_id: str, now: datetime, lease: timedelta) -> Notification | None:
    """Claim the notification (with a lease) for one delivery attempt; None when it can no longer be
    claimed (another replica took it). By id: senders claiming different notifications never contend,
    as they did taking turns at the head of the queue (a write conflict retried for each of them)."""
    doc = await runtime.db[NOTIFICATIONS].find_one_and_update(
        {"_id": notification_id, **_claimable(now)},
        {
            "$set": {"status": DeliveryStatus.SENDING.value, "claim": uuid.uuid4().hex, "claimed_until": now + lease},
            "$inc": {"attempts": 1},
        },
        return_document=ReturnDocument.AFTER,
    )
    return _notification(doc) if doc else None


async def retry_later(runtime: FeedbackRuntime, notification: Notification, at: datetime, error: str) -> None:
    await runtime.db[NOTIFICATIONS].update_one(
        {"_id": notification.notification_id, "claim": notification.claim},
        {"$set": {"status": DeliveryStatus.PENDING.value, "next_attempt_at": at, "last_error": error}},
    )


async def finish(runtime: FeedbackRuntime, notification: Notification, status: DeliveryStatus, error: str) -> None:
    await runtime.db[NOTIFICATIONS].update_one(
        {"_id": notification.notification_id, "claim": notification.claim},
        {"$set": {"status": status.value, "last_error": error}},
    )


async def mark_delivered(uow: UnitOfWork, notification: Notification, subject: str, now: datetime) -> bool:
    """True when this attempt still held the notification (it is now delivered)."""
    result = await uow.db[NOTIFICATIONS].update_one(
        {"_id": notification.notification_id, "claim": notification.claim, "status": DeliveryStatus.SENDING.value},
        {"$set": {"status": DeliveryStatus.DELIVERED.value, "delivered_at": now, "subject": subject}},
        session=uow.session,
    )
    return result.modified_count == 1


# --- Webhook subscriptions ----------------------------------------------------------------------------


async def webhook_of(runtime: FeedbackRuntime, customer_id: str) -> Webhook | None:
    doc = await runtime.db[WEBHOOKS].find_one({"_id": customer_id})
    return _webhook(doc) if doc else None


async def set_webhook(runtime: FeedbackRuntime, webhook: Webhook, updated_by: str) -> None:
    await runtime.db[WEBHOOKS].update_one(
        {"_id": webhook.customer_id},
        {
            "$set": {
                "url": webhook.url,
                "secret": webhook.secret,
                "updated_at": webhook.updated_at,
                "updated_by": updated_by,
            }
        },
        upsert=True,
    )


async def delete_webhook(runtime: FeedbackRuntime, customer_id: str) -> bool:
    """False when the customer had no webhook."""
    result = await runtime.db[WEBHOOKS].delete_one({"_id": customer_id})
    return result.deleted_count == 1


async def count_by_status(runtime: FeedbackRuntime, statuses: list[DeliveryStatus]) -> dict[DeliveryStatus, int]:
    """How many notifications are in each of `statuses` now (the feedback gauges, notifications/metrics.py)."""
    counts = {status: 0 for status in statuses}
    async for row in await runtime.db[NOTIFICATIONS].aggregate(
        [{"$match": {"status": {"$in": [s.value for s in statuses]}}}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]
    ):
        counts[DeliveryStatus(row["_id"])] = int(row["n"])
    return counts
