"""The two real delivery channels: e-mail over SMTP and signed webhooks over HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import httpx

from compressor_kit.refusals import Refusal
from feedback_service.notifications.domain import NOTIFICATION_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from feedback_service.notifications.webhook_target import redacted, resolve
from feedback_service.settings import FeedbackSettings


class DeliveryFailed(Exception):
    """The channel did not take the message; it is retried later."""


async def send_email(
    settings: FeedbackSettings, *, to: str, subject: str, body: str, notification_id: str, language: str
) -> None:
    message = EmailMessage()
    # Every header value goes through header_text: a line break in a name or subject (taken from events and
    # tokens) would otherwise start a header of its own (Bcc:, a second body) or make the message unsendable.
    headers = {
        "From": settings.mail_sender,
        "To": to,
        "Subject": subject,
        "Date": formatdate(usegmt=True),
        # One Message-ID per notification: a resend after a crash is recognisable as the same message.
        "Message-ID": make_msgid(idstring=notification_id, domain="compressor-service"),
        "X-Compressor-Notification-Id": notification_id,
    }
    for name, value in headers.items():
        message[name] = header_text(value)
    message.set_content(body)
    # After set_content, which replaces every Content-* header: what the subject and body are written in.
    message["Content-Language"] = header_text(language)
    recipient = message["To"].addresses[0].addr_spec if len(message["To"].addresses) == 1 else ""
    if not recipient or recipient != header_text(to):
        raise DeliveryFailed("the recipient is not one e-mail address")

    def send() -> None:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=smtp_tls_context(settings))
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(message, to_addrs=[recipient])

    try:
        await asyncio.to_thread(send)
    except (OSError, smtplib.SMTPException) as exc:  # ssl.SSLError (a refused certificate) is an OSError
        raise DeliveryFailed(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(exc).__name__}: {exc}") from exc


def header_text(value: str) -> str:
    """`value` on one line: control characters (CR, LF and the rest) become spaces, runs of white space one."""
    return " ".join(CONTROL_CHARACTERS.sub(" ", value).split())


CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def smtp_tls_context(settings: FeedbackSettings) -> ssl.SSLContext:
    """STARTTLS that verifies the server's certificate chain and host name (SMTP_HOST), against the
    system's CAs or, for a private CA, SMTP_CA_FILE's. There is no unverified mode."""
    return ssl.create_default_context(cafile=settings.smtp_ca_file or None)


def webhook_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


async def send_webhook(
    settings: FeedbackSettings, *, url: str, secret: str, payload: dict[str, Any], notification_id: str
) -> None:
    body = webhook_body(payload)
    timestamp = str(int(time.time()))  # wall time on purpose: the receiver checks it against its own clock
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        NOTIFICATION_ID_HEADER: notification_id,  # receivers can drop a resend after a crash
    }
    shown = redacted(url)  # errors are stored and shown: never the path, which may carry a secret
    try:
        # Resolved and checked now, and connected to at the checked address (DNS may have changed since
        # the webhook was registered); no proxy from the environment, no redirects followed.
        target = await resolve(url, allow_internal=settings.webhooks_may_reach_internal_hosts())
    except Refusal as refused:
        raise DeliveryFailed(f"webhook {shown} refused: {refused}") from refused
    headers["Host"] = target.host
    try:
        async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, trust_env=False) as client:
            response = await client.post(
                target.url, content=body, headers=headers, extensions={"sni_hostname": target.server_name}
            )
    except httpx.HTTPError as exc:
        reason = str(exc).replace(target.url, shown).replace(url, shown)
        raise DeliveryFailed(f"webhook {shown} ({target.address}): {type(exc).__name__}: {reason}") from exc
    if not response.is_success:
        raise DeliveryFailed(f"webhook {shown} answered {response.status_code}")
