"""Sign-in with the provider (authorization code flow with PKCE) and sign-out.

GET /auth/login?next=/page starts a sign-in: its state, nonce, PKCE verifier and the page to return
to are kept server-side under the state, and the state also goes into a short-lived cookie, so the
callback is accepted only in the browser that started it. GET /auth/callback checks the state,
exchanges the code (with the client secret and the PKCE verifier), verifies the access token like
every service does, and keeps the tokens in a server-side session; the browser only holds the
session's random id in the `console_session` cookie (HttpOnly, SameSite=Lax, Secure over https).
POST /auth/logout (CSRF-checked) ends the session and then the provider's (RP-initiated logout).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect

from compressor_kit.auth import ALL_ROLES, CUSTOMER, public
from compressor_kit.oidc import Pkce, ProviderUnavailable, TokenRequestRefused
from console_service.languages import remember_language
from console_service.pages import page
from console_service.portal import api as portal_api
from console_service.sessions import domain, store
from console_service.sessions.guard import COOKIE, oidc_client, pages, session_of
from console_service.settings import ConsoleRuntime, ConsoleSettings
from console_service.texts import _

SIGN_IN_COOKIE = "console_sign_in"
SCOPE = "openid profile email"


def _cookie(settings: ConsoleSettings, name: str, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=name,
        value=value,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=max_age,
    )


def _unavailable(detail: str) -> Response[str]:
    return page("message.html", status_code=503, session=None, title=_("Sign-in unavailable"), message=detail)


@get("/auth/login", **public(), include_in_schema=False)
async def login(
    runtime: NamedDependency[ConsoleRuntime], next_path: Annotated[str | None, QueryParameter(name="next")] = None
) -> Response[Any]:
    """Off to the provider's sign-in, to come back to `next` (a page of the console)."""
    pkce, state, nonce = Pkce.new(), domain.new_secret(), domain.new_secret()
    settings = runtime.settings
    try:
        url = await oidc_client(runtime).authorization_url(settings.redirect_uri, state, nonce, pkce, SCOPE)
    except ProviderUnavailable:
        return _unavailable(_("The sign-in service cannot be reached just now. Please try again in a minute."))
    now = datetime.now(UTC)
    await store.save_sign_in(
        runtime,
        {
            "_id": state,
            "nonce": nonce,
            "verifier": pkce.verifier,
            "challenge": pkce.challenge,
            "next": domain.safe_next(next_path),
            "expires_at": now + domain.SIGN_IN_LIFETIME,
        },
    )
    lifetime = int(domain.SIGN_IN_LIFETIME.total_seconds())
    return Redirect(url, status_code=303, cookies=[_cookie(settings, SIGN_IN_COOKIE, state, lifetime)])


@get("/auth/callback", **public(), include_in_schema=False)
async def callback(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    sign_in_state: Annotated[str | None, QueryParameter(name="state")] = None,
    code: FromQuery[str | None] = None,
    error: FromQuery[str | None] = None,
) -> Response[Any]:
    """The provider sends the browser back here with a code (or an error)."""
    settings = runtime.settings
    expired = Cookie(key=SIGN_IN_COOKIE, value="", path="/", max_age=0, httponly=True, samesite="lax")
    if not sign_in_state or request.cookies.get(SIGN_IN_COOKIE) != sign_in_state:
        return page(
            "message.html",
            status_code=400,
            session=None,
            title=_("Sign-in not recognised"),
            message=_("This sign-in was not started in this browser, or it has expired. Please sign in again."),
        )
    sign_in = await store.take_sign_in(runtime, sign_in_state)
    if sign_in is None or domain.has_ended(sign_in, datetime.now(UTC)) or error or not code:
        return page(
            "message.html",
            status_code=400,
            session=None,
            title=_("Sign-in not completed"),
            message=_("The sign-in was cancelled or has expired. Please sign in again."),
        )
    try:
        tokens = await oidc_client(runtime).exchange_code(
            code, settings.redirect_uri, Pkce(sign_in["verifier"], sign_in["challenge"])
        )
        principal = await runtime.token_verifier.verify(tokens.access_token)
    except (TokenRequestRefused, ProviderUnavailable):
        return _unavailable(_("The sign-in could not be completed. Please sign in again."))
    name = principal.claims.get("name")
    person = domain.Person(
        subject=principal.subject,
        name=name if isinstance(name, str) and name else principal.subject,
        roles=tuple(sorted(principal.roles)),
    )
    now = datetime.now(UTC)
    session_id, session = domain.new_session(
        person,
        access_token=tokens.access_token,
        access_expires_at=datetime.fromtimestamp(tokens.expires_at, UTC),
        refresh_token=tokens.refresh_token,
        id_token=tokens.id_token,
        now=now,
        lifetime=timedelta(seconds=settings.console_session_seconds),
    )
    if CUSTOMER in person.roles:  # the portal opens in the language the customer's contact prefers
        preferred = await portal_api.customer_language(
            runtime, tokens.access_token, person.subject, principal.claims.get("email")
        )
        remember_language(session, preferred)
    await store.save_session(runtime, session)
    session_cookie = _cookie(settings, COOKIE, session_id, settings.console_session_seconds)
    return Redirect(sign_in["next"], status_code=303, cookies=[session_cookie, expired])


@post("/auth/logout", **pages(*ALL_ROLES), status_code=303)
async def logout(request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime]) -> Response[Any]:
    """Ends the console's session, then the provider's, which sends the browser back to the console."""
    session = session_of(request)
    await store.end_session(runtime, session["_id"])
    gone = Cookie(key=COOKIE, value="", path="/", max_age=0, httponly=True, samesite="lax")
    settings = runtime.settings
    target = "/"
    if session.get("id_token"):
        try:
            target = await oidc_client(runtime).end_session_url(
                session["id_token"], settings.console_public_url.rstrip("/") + "/"
            )
        except ProviderUnavailable:
            target = "/"
    return Redirect(target, status_code=303, cookies=[gone])
