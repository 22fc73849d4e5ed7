"""Notifications over HTTP: what was sent about a job, and customers' webhook subscriptions (admin)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from litestar import Request, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from pydantic import BaseModel, ConfigDict, Field, field_validator

from compressor_kit.auth import Role, principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from feedback_service.notifications.store import NOTIFICATIONS, WEBHOOKS

IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class NotificationView(BaseModel):
    notification_id: str
    audience: str
    channel: str | None
    recipient: str
    template: str
    about_event: str
    about_event_id: str
    status: str
    attempts: int
    subject: str | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, description="https (or http) URL the customer's notifications are POSTed to.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
            raise ValueError("url must be an http(s) URL")
        return value


class WebhookOut(BaseModel):
    customer_id: str
    url: str
    updated_at: datetime
    secret: str | None = Field(
        default=None,
        description="HMAC-SHA256 signing secret; returned only when set or rotated (PUT). The receiver checks "
        "X-Compressor-Signature = 'sha256=' + hex(HMAC(secret, X-Compressor-Timestamp + '.' + body)).",
    )


def _customer_id(customer_id: FromPath[str]) -> str:
    if not IDENTIFIER.match(customer_id):
        raise Problem(422, "customer_id must be letters, digits and _ . : - (at most 64)", field="customer_id")
    return customer_id


@get(
    "/jobs/{job_id:str}/notifications",
    **requires(Role.MANAGER, Role.RECEPTION, Role.ADMIN),
    operation_id="listJobNotifications",
)
async def list_job_notifications(
    job_id: FromPath[str], runtime: NamedDependency[Runtime], limit: Limit = 50, offset: Offset = 0
) -> Page[NotificationView]:
    """Every notification about the job, oldest first, with its delivery state."""
    query = {"job_id": job_id}
    total = await runtime.db[NOTIFICATIONS].count_documents(query)
    cursor = runtime.db[NOTIFICATIONS].find(query).sort([("created_at", 1), ("_id", 1)]).skip(offset).limit(limit)
    items = [
        NotificationView(
            notification_id=doc["_id"],
            audience=doc["audience"],
            channel=doc.get("channel"),
            recipient=doc["recipient"],
            template=doc["template"],
            about_event=doc["about_event"],
            about_event_id=doc["about_event_id"],
            status=doc["status"],
            attempts=doc["attempts"],
            subject=doc.get("subject"),
            last_error=doc.get("last_error"),
            created_at=doc["created_at"],
            next_attempt_at=doc.get("next_attempt_at"),
            delivered_at=doc.get("delivered_at"),
        )
        async for doc in cursor
    ]
    return Page(items=items, total=total, limit=limit, offset=offset)


@put("/customers/{customer_id:str}/webhook", **requires(Role.ADMIN), operation_id="setCustomerWebhook")
async def set_customer_webhook(
    request: Request, customer_id: FromPath[str], data: JSONBody[WebhookIn], runtime: NamedDependency[Runtime]
) -> WebhookOut:
    """Register (or replace) the customer's webhook; a new signing secret is issued and shown once.
    Used for customers whose contact prefers webhook notifications."""
    _customer_id(customer_id)
    secret = secrets.token_urlsafe(32)
    now = runtime.clock.now()
    await runtime.db[WEBHOOKS].update_one(
        {"_id": customer_id},
        {"$set": {"url": data.url, "secret": secret, "updated_at": now, "updated_by": principal_of(request).subject}},
        upsert=True,
    )
    return WebhookOut(customer_id=customer_id, url=data.url, updated_at=now, secret=secret)


@get("/customers/{customer_id:str}/webhook", **requires(Role.ADMIN), operation_id="getCustomerWebhook")
async def get_customer_webhook(customer_id: FromPath[str], runtime: NamedDependency[Runtime]) -> WebhookOut:
    doc = await runtime.db[WEBHOOKS].find_one({"_id": _customer_id(customer_id)})
    if doc is None:
        raise Problem(404, f"customer {customer_id} has no webhook", field="customer_id")
    return WebhookOut(customer_id=customer_id, url=doc["url"], updated_at=doc["updated_at"])


@delete("/customers/{customer_id:str}/webhook", **requires(Role.ADMIN), operation_id="deleteCustomerWebhook")
async def delete_customer_webhook(customer_id: FromPath[str], runtime: NamedDependency[Runtime]) -> None:
    result = await runtime.db[WEBHOOKS].delete_one({"_id": _customer_id(customer_id)})
    if result.deleted_count == 0:
        raise Problem(404, f"customer {customer_id} has no webhook", field="customer_id")


ROUTES = [list_job_notifications, set_customer_webhook, get_customer_webhook, delete_customer_webhook]
