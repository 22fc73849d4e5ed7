"""Pure sign-in and session rules: where to go back to, when a session has ended or needs fresh
tokens, and whether a form carries the session's CSRF token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

REFRESH_BEFORE = timedelta(seconds=30)
SIGN_IN_LIFETIME = timedelta(minutes=10)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def safe_next(path: str | None) -> str:
    """A page of this console to return to after sign-in: a local path only (never another site, which
    would make the console an open redirect), and never the sign-in routes themselves."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or parts.path.startswith("/auth/"):
        return "/"
    return path


def session_key(session_id: str) -> str:
    """What the database keeps of a session id: its digest, so a database read yields no cookie."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Person:
    """Who a session belongs to, as the access token says."""

    subject: str
    name: str
    roles: tuple[str, ...]


def new_session(
    person: Person,
    *,
    access_token: str,
    access_expires_at: datetime,
    refresh_token: str | None,
    id_token: str | None,
    now: datetime,
    lifetime: timedelta,
) -> tuple[str, dict[str, object]]:
    """A session id (for the cookie) and the session's document (keyed by the id's digest)."""
    session_id = new_secret()
    return session_id, {
        "_id": session_key(session_id),
        "subject": person.subject,
        "name": person.name,
        "roles": list(person.roles),
        "access_token": access_token,
        "access_expires_at": access_expires_at,
        "refresh_token": refresh_token,
        "id_token": id_token,
        "csrf_token": new_secret(),
        "created_at": now,
        "expires_at": now + lifetime,
    }


def has_ended(session: dict[str, object], now: datetime) -> bool:
    expires_at = session["expires_at"]
    return not isinstance(expires_at, datetime) or expires_at <= now


def needs_fresh_tokens(session: dict[str, object], now: datetime) -> bool:
    access_expires_at = session["access_expires_at"]
    return not isinstance(access_expires_at, datetime) or access_expires_at - REFRESH_BEFORE <= now


def csrf_matches(session: dict[str, object], sent: str | None) -> bool:
    expected = session.get("csrf_token")
    return isinstance(expected, str) and bool(sent) and hmac.compare_digest(expected, sent or "")
