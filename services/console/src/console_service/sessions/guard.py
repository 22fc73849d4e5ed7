"""The session guard of the console's pages.

The services' API routes take a bearer token (`compressor_kit.auth.requires`); the console's pages
take the session cookie instead. Every page declares who may open it with `pages(...)`, which the
kit's rule (every route declares roles or is public) and the route-roles test both read: without a
session a page sends the browser to sign in (and back to the page afterwards), with a role not
listed it answers a 403 page, and every unsafe method must carry the session's CSRF token (the form
field `csrf_token` or the header `X-CSRF-Token`, which htmx and the console's script send).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect

from compressor_kit.auth import AnyRole
from compressor_kit.oidc import OidcClient, ProviderUnavailable, TokenRequestRefused
from console_service.pages import page
from console_service.sessions import domain, store
from console_service.settings import ConsoleRuntime
from console_service.texts import _

COOKIE = "console_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


class SignInNeeded(Exception):
    """No session, or one that has ended: sign in, then come back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign-in needed")
        self.next_path = next_path


class NotForThisRole(Exception):
    """Signed in, but the page is not for any of the person's roles."""

    def __init__(self, session: dict[str, Any], allowed: tuple[str, ...]) -> None:
        super().__init__("not for this role")
        self.session, self.allowed = session, allowed


class CsrfMissing(Exception):
    """An unsafe request without the session's CSRF token."""


def runtime_of(connection: ASGIConnection[Any, Any, Any, Any]) -> ConsoleRuntime:
    return cast(ConsoleRuntime, connection.app.state.runtime)


def oidc_client(runtime: ConsoleRuntime) -> OidcClient:
    settings = runtime.settings
    return OidcClient(
        runtime.http, settings, settings.console_client_id, settings.console_client_secret.get_secret_value()
    )


def sign_in_url(next_path: str) -> str:
    return "/auth/login?" + urlencode({"next": domain.safe_next(next_path)})


async def _fresh(runtime: ConsoleRuntime, key: str, session: dict[str, Any]) -> dict[str, Any] | None:
    """The session with an access token that is still good: refreshed at the provider when it is about
    to expire; None when it cannot be (the refresh token ended, e.g. the person signed out elsewhere)."""
    now = datetime.now(UTC)
    if not domain.needs_fresh_tokens(session, now):
        return session
    refresh_token = session.get("refresh_token")
    if not refresh_token:
        return None
    try:
        tokens = await oidc_client(runtime).refresh(refresh_token)
        person = await runtime.token_verifier.verify(tokens.access_token)
    except (TokenRequestRefused, ProviderUnavailable):
        return None
    if person.subject != session["subject"]:
        return None
    return await store.renew_tokens(
        runtime,
        key,
        {
            "access_token": tokens.access_token,
            "access_expires_at": datetime.fromtimestamp(tokens.expires_at, UTC),
            "refresh_token": tokens.refresh_token or refresh_token,
            "roles": sorted(person.roles),
        },
    )


async def current_session(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any] | None:
    """The signed-in person's live session, or None."""
    session_id = connection.cookies.get(COOKIE)
    if not session_id:
        return None
    runtime = runtime_of(connection)
    key = domain.session_key(session_id)
    session = await store.session_of(runtime, key)
    if session is None or domain.has_ended(session, datetime.now(UTC)):
        return None
    fresh = await _fresh(runtime, key, session)
    if fresh is None:
        await store.end_session(runtime, key)
    return fresh


async def session_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    allowed: tuple[str, ...] = tuple(str(role) for role in handler.opt["roles"])
    session = await current_session(connection)
    if session is None:
        back_to = connection.url.path + (f"?{connection.url.query}" if connection.url.query else "")
        raise SignInNeeded(back_to if connection.scope.get("method", "GET") in domain.SAFE_METHODS else "/")
    if connection.scope.get("method", "GET") not in domain.SAFE_METHODS:
        sent = connection.headers.get(CSRF_HEADER)
        if sent is None and isinstance(connection, Request):
            sent = (await connection.form()).get(CSRF_FIELD)
        if not domain.csrf_matches(session, sent if isinstance(sent, str) else None):
            raise CsrfMissing()
    if not set(session["roles"]).intersection(allowed):
        raise NotForThisRole(session, allowed)
    connection.scope["state"]["console_session"] = session


def session_of(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    session: dict[str, Any] = connection.scope["state"]["console_session"]
    return session


def _to_sign_in(request: Request[Any, Any, Any], error: SignInNeeded) -> Response[Any]:
    return Redirect(sign_in_url(error.next_path), status_code=303)


def _not_for_this_role(request: Request[Any, Any, Any], error: NotForThisRole) -> Response[str]:
    return page("forbidden.html", status_code=403, session=error.session, allowed=error.allowed)


def _csrf_missing(request: Request[Any, Any, Any], error: CsrfMissing) -> Response[str]:
    return page(
        "message.html",
        status_code=403,
        session=None,
        title=_("Form expired"),
        message=_("This form has expired or did not come from the console. Go back, reload the page and try again."),
    )


def pages(*roles: AnyRole) -> dict[str, Any]:
    """Route decorator arguments of a console page: `@get("/", **pages(StaffRole.DISPATCHER, ...))`."""
    if not roles:
        raise ValueError("declare at least one role")
    return {
        "guards": [session_guard],
        "opt": {"roles": tuple(roles), "session": True},
        "include_in_schema": False,
        "exception_handlers": {
            SignInNeeded: _to_sign_in,
            NotForThisRole: _not_for_this_role,
            CsrfMissing: _csrf_missing,
        },
    }
