"""Notifications over HTTP: what was sent about a job, and customers' webhook subscriptions (admin)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, delete, get, put
from litestar.di import NamedDependency
from litestar.openapi.spec import Example
from litestar.params import FromPath, JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import StaffRole
from compressor_contracts.common import NotificationChannel
from compressor_kit.auth import Principal, principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.refusals import Refusal
from feedback_service.notifications import store as notifications
from feedback_service.notifications.domain import Audience, DeliveryStatus, Notification, Webhook, shown_recipient
from feedback_service.notifications.webhook_target import redacted, resolve
from feedback_service.settings import FeedbackRuntime

IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
NOTIFICATION_TAGS = ["Notifications"]
WEBHOOK_TAGS = ["Webhooks"]
WEBHOOK_URL_EXAMPLE = "https://integrations.serimurni.example/hooks/compressor"

CustomerId = Annotated[
    str, Parameter(description="The customer's id in intake's customer file.", examples=[Example(value="CUST-0107")])
]


class NotificationView(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "notification_id": "NTF-6c6fafac53dd3802e1058a31",
                    "audience": "customer",
                    "channel": "email",
                    "recipient": "amir.hassan@example.com.my",
                    "template": "customer-engineer-dispatched",
                    "about_event": "job.engineer_dispatched.v1",
                    "about_event_id": "8c1f5d0e-3b7a-4a57-9a43-2f1de2f6f0b1",
                    "status": "delivered",
                    "attempts": 1,
                    "subject": "JOB-2026-000042: Lim Wei Jie is on the way, arriving about 14:00",
                    "last_error": None,
                    "created_at": "2026-03-03T10:15:00Z",
                    "next_attempt_at": "2026-03-03T10:15:00Z",
                    "delivered_at": "2026-03-03T10:15:02Z",
                }
            ]
        }
    )

    notification_id: str
    audience: Audience
    channel: NotificationChannel | None
    recipient: str
    template: str
    about_event: str
    about_event_id: str
    status: DeliveryStatus
    attempts: int
    subject: str | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"url": WEBHOOK_URL_EXAMPLE}]})

    url: str = Field(
        max_length=2000,
        description="https URL the customer's notifications are POSTed to. Its host must resolve to public "
        "addresses only (no loopback, private, link-local or metadata, multicast or reserved ones); checked "
        "again at every delivery. Refused: 422 naming url.",
    )


class WebhookOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "CUST-0107",
                    "url": WEBHOOK_URL_EXAMPLE,
                    "updated_at": "2026-03-01T08:00:00Z",
                    "secret": "k3Jw0bq5mS2l9V1cXyZ8pT4nR6aE7uH0dF2gQ5wL1oM",
                }
            ]
        }
    )

    customer_id: str
    url: str = Field(description="The whole URL for admins; scheme://host for others (the path may hold a secret).")
    updated_at: datetime
    secret: str | None = Field(
        default=None,
        description="HMAC-SHA256 signing secret; returned only when set or rotated (PUT). The receiver checks "
        "X-Compressor-Signature = 'sha256=' + hex(HMAC(secret, X-Compressor-Timestamp + '.' + body)).",
    )


def _is_admin(principal: Principal) -> bool:
    return StaffRole.ADMIN in principal.roles


def notification_view(n: Notification, *, whole_recipient: bool) -> NotificationView:
    recipient = n.recipient if whole_recipient else shown_recipient(n.channel, n.recipient)
    last_error = n.last_error
    if last_error and recipient != n.recipient:  # errors stored before they were written redacted
        last_error = last_error.replace(n.recipient, recipient)
    return NotificationView(
        notification_id=n.notification_id,
        audience=n.audience,
        channel=n.channel,
        recipient=recipient,
        template=n.template,
        about_event=n.about_event,
        about_event_id=n.about_event_id,
        status=n.status,
        attempts=n.attempts,
        subject=n.subject,
        last_error=last_error,
        created_at=n.created_at,
        next_attempt_at=n.next_attempt_at,
        delivered_at=n.delivered_at,
    )


def _checked(customer_id: str) -> str:
    if not IDENTIFIER.match(customer_id):
        raise Refusal.invalid("customer_id must be letters, digits and _ . : - (at most 64)", field="customer_id")
    return customer_id


@get(
    "/jobs/{job_id:str}/notifications",
    **requires(StaffRole.MANAGER, StaffRole.RECEPTION, StaffRole.ADMIN),
    operation_id="listJobNotifications",
    tags=NOTIFICATION_TAGS,
)
async def list_job_notifications(
    job_id: FromPath[str],
    request: Request[Any, Any, Any],
    runtime: NamedDependency[FeedbackRuntime],
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[NotificationView]:
    """Every notification about the job, oldest first, with its delivery state. A webhook recipient is
    shown whole to admins only; others see its scheme and host."""
    found, total = await notifications.notifications_of_job(runtime, job_id, limit=limit, offset=offset)
    admin = _is_admin(principal_of(request))
    items = [notification_view(n, whole_recipient=admin) for n in found]
    return Page(items=items, total=total, limit=limit, offset=offset)


@put(
    "/customers/{customer_id:str}/webhook",
    **requires(StaffRole.ADMIN),
    operation_id="setCustomerWebhook",
    tags=WEBHOOK_TAGS,
)
async def set_customer_webhook(
    request: Request[Any, Any, Any],
    customer_id: CustomerId,
    data: JSONBody[WebhookIn],
    runtime: NamedDependency[FeedbackRuntime],
) -> WebhookOut:
    """Register (or replace) the customer's webhook; a new signing secret is issued and shown once.
    Used for customers whose contact prefers webhook notifications. The URL must be https to a host that
    resolves to public addresses only (422 naming url otherwise)."""
    await resolve(data.url, allow_internal=runtime.settings.webhooks_may_reach_internal_hosts())  # Refusal: 422 on url
    webhook = Webhook(
        customer_id=_checked(customer_id),
        url=data.url,
        secret=secrets.token_urlsafe(32),
        updated_at=runtime.clock.now(),
    )
    await notifications.set_webhook(runtime, webhook, updated_by=principal_of(request).subject)
    return WebhookOut(customer_id=customer_id, url=webhook.url, updated_at=webhook.updated_at, secret=webhook.secret)


@get(
    "/customers/{customer_id:str}/webhook",
    **requires(StaffRole.ADMIN, StaffRole.MANAGER, StaffRole.RECEPTION),
    operation_id="getCustomerWebhook",
    tags=WEBHOOK_TAGS,
)
async def get_customer_webhook(
    customer_id: CustomerId, request: Request[Any, Any, Any], runtime: NamedDependency[FeedbackRuntime]
) -> WebhookOut:
    """Whether and where the customer's notifications are POSTed: the whole URL for admins, its scheme and
    host for managers and reception (the path may carry the receiver's secret)."""
    webhook = await notifications.webhook_of(runtime, _checked(customer_id))
    if webhook is None:
        raise Refusal.not_found(f"customer {customer_id} has no webhook", field="customer_id")
    url = webhook.url if _is_admin(principal_of(request)) else redacted(webhook.url)
    return WebhookOut(customer_id=customer_id, url=url, updated_at=webhook.updated_at)


@delete(
    "/customers/{customer_id:str}/webhook",
    **requires(StaffRole.ADMIN),
    operation_id="deleteCustomerWebhook",
    tags=WEBHOOK_TAGS,
)
async def delete_customer_webhook(customer_id: CustomerId, runtime: NamedDependency[FeedbackRuntime]) -> None:
    if not await notifications.delete_webhook(runtime, _checked(customer_id)):
        raise Refusal.not_found(f"customer {customer_id} has no webhook", field="customer_id")


ROUTES = [list_job_notifications, set_customer_webhook, get_customer_webhook, delete_customer_webhook]
