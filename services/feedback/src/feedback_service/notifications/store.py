"""Stored notifications (one per event, recipient and channel) and customers' webhook subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel

from compressor_contracts import CloudEvent
from compressor_contracts.common import NotificationChannel
from compressor_kit.outbox import UnitOfWork
from feedback_service.jobs.store import job_context
from feedback_service.notifications.domain import (
    Audience,
    DeliveryStatus,
    Route,
    customer_destination,
    notification_id,
    notification_key,
)

NOTIFICATIONS = "notifications"
WEBHOOKS = "webhooks"
NOTIFICATION_INDEXES = {
    NOTIFICATIONS: [
        IndexModel([("key", ASCENDING)], name="one_per_event_recipient_channel", unique=True),
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
        IndexModel([("job_id", ASCENDING), ("created_at", ASCENDING)], name="by_job"),
    ],
}


async def webhook_of(uow: UnitOfWork, customer_id: str) -> dict[str, Any] | None:
    return await uow.db[WEBHOOKS].find_one({"_id": customer_id}, session=uow.session)


async def enqueue(
    uow: UnitOfWork,
    *,
    job: dict[str, Any],
    event: CloudEvent,
    route: Route,
    now: datetime,
    management_recipients: list[str],
    survey_id: str | None = None,
) -> list[str]:
    """Store the notifications `event` causes, pending delivery; ids of those stored.

    Upserts on the natural key: a redelivered or replayed event finds its notifications and adds nothing.
    """
    if route.audience is Audience.MANAGEMENT:
        destinations = [(NotificationChannel.EMAIL, address) for address in management_recipients]
    else:
        contact = job["contact"]
        webhook = await webhook_of(uow, job["customer"]["customer_id"])
        destination = customer_destination(
            NotificationChannel(contact.get("preferred_channel", "email")),
            contact.get("email"),
            webhook["url"] if webhook else None,
        )
        destinations = [(destination.channel, destination.recipient)] if destination else [(None, "")]
    stored = []
    for channel, recipient in destinations:
        key = notification_key(event.id, route.audience, channel or NotificationChannel.EMAIL, recipient)
        nid = notification_id(key)
        reachable = channel is not None
        await uow.db[NOTIFICATIONS].update_one(
            {"key": key},
            {
                "$setOnInsert": {
                    "_id": nid,
                    "key": key,
                    "job_id": job["_id"],
                    "correlation_id": job.get("correlation_id") or event.correlationid,
                    "audience": route.audience.value,
                    "channel": channel.value if channel else None,
                    "recipient": recipient,
                    "template": route.template,
                    "about_event": event.routing_key,
                    "about_event_id": event.id,
                    "context": {"job": job_context(job), "event": event.data.model_dump(mode="json")},
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
