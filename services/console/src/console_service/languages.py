"""The reader's language on every console and portal page: Bahasa Melayu or English.

Chosen per request, first that answers: `?lang=ms|en` on a GET (the page's switch: it also sets the
long-lived `lang` cookie and sends the browser back to the same URL without `lang`), the `lang`
cookie, the session's preferred language (`remember_language`, e.g. a customer's at sign-in), the
browser's Accept-Language, English. `choose_language` is that order, pure; `ReadersLanguage` is the
middleware that applies it with `set_language`, so `_()`, the templates and the date filters follow.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl, urlencode

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from compressor_contracts.common import Language
from compressor_kit.i18n import DEFAULT_LANGUAGE, negotiate, parse_language, reset_language, set_language

PARAMETER = "lang"
COOKIE = "lang"
COOKIE_SECONDS = 400 * 24 * 3600  # the longest a browser keeps a cookie
SESSION_FIELD = "language"
LANGUAGE_NAMES = {Language.MS: "Bahasa Melayu", Language.EN: "English"}
SWITCH_LABELS = {Language.MS: "BM", Language.EN: "EN"}

# The page being answered (path and query, without `lang`), for the switch's links.
_page_target: ContextVar[str] = ContextVar("page_target", default="/")


# --- pure --------------------------------------------------------------------------------------------------


def choose_language(
    *,
    asked: str | None = None,
    cookie: str | None = None,
    session_language: str | None = None,
    accept_language: str | None = None,
) -> Language:
    """The reader's language: the switch, else the cookie, else the session's, else the browser's, else
    English. An unknown value at one step falls through to the next."""
    for candidate in (asked, cookie, session_language):
        language = parse_language(candidate)
        if language is not None:
            return language
    return negotiate(accept_language) or DEFAULT_LANGUAGE


def remember_language(session: MutableMapping[str, Any], language: Language | str | None) -> None:
    """Keep a person's preferred language in their session document (before it is saved), so their pages
    are in it until they use the switch. Unknown languages are ignored."""
    chosen = parse_language(language)
    if chosen is not None:
        session[SESSION_FIELD] = chosen.value


def without_language(path: str, query: Iterable[tuple[str, str]]) -> str:
    """`path?query` without the `lang` parameter: where the switch sends the browser back to. Always a
    local path (a path starting with `//` would name another site)."""
    local = "/" + path.lstrip("/")
    rest = [(name, value) for name, value in query if name != PARAMETER]
    return local + ("?" + urlencode(rest) if rest else "")


def switch_url(target: str, language: Language | str) -> str:
    """The link that shows `target` (a path with its query) in `language`."""
    return target + ("&" if "?" in target else "?") + urlencode({PARAMETER: str(language)})


def language_cookie(language: Language, *, secure: bool) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=language.value,
        path="/",
        max_age=COOKIE_SECONDS,
        samesite="lax",
        secure=secure,
        httponly=True,
    )


def language_switch(language: Language | str) -> str:
    """For templates: this page in `language`."""
    return switch_url(_page_target.get(), language)


# --- per request -------------------------------------------------------------------------------------------


async def _session_language(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The signed-in person's preferred language kept in their session, if any."""
    from console_service.sessions import domain, store  # the sessions import the pages, which import this
    from console_service.sessions.guard import COOKIE as SESSION_COOKIE
    from console_service.sessions.guard import runtime_of

    session_id = connection.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    session = await store.session_of(runtime_of(connection), domain.session_key(session_id))
    language = session.get(SESSION_FIELD) if session else None
    return language if isinstance(language, str) else None


class ReadersLanguage(ASGIMiddleware):
    """Every page in the reader's language (see the module's docstring for the order)."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        asked = next((value for name, value in reversed(query) if name == PARAMETER), None)
        # The path as sent (still %-encoded, so the redirect is a valid URL); some servers leave the query on it.
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1").partition("?")[0] if raw_path else scope["path"]
        target = without_language(path, query)
        if asked is not None and scope.get("method") == "GET":
            await self._switch(connection, parse_language(asked), target, send)
            return
        cookie = connection.cookies.get(COOKIE)
        session_language = None
        if parse_language(asked) is None and parse_language(cookie) is None:
            session_language = await _session_language(connection)
        language = choose_language(
            asked=asked,
            cookie=cookie,
            session_language=session_language,
            accept_language=connection.headers.get("accept-language"),
        )
        language_token, target_token = set_language(language), _page_target.set(target)
        try:
            await next_app(scope, receive, send)
        finally:
            _page_target.reset(target_token)
            reset_language(language_token)

    @staticmethod
    async def _switch(
        connection: ASGIConnection[Any, Any, Any, Any], language: Language | None, target: str, send: Send
    ) -> None:
        """Back to the same page without `lang`, remembering the language asked for (if it is one of ours)."""
        headers = [(b"location", target.encode()), (b"cache-control", b"no-store"), (b"content-length", b"0")]
        if language is not None:
            secure = bool(connection.app.state.runtime.settings.secure_cookies)
            headers.append(language_cookie(language, secure=secure).to_encoded_header())
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


READERS_LANGUAGE = ReadersLanguage()


def in_readers_language(route_handlers: list[Any]) -> list[Any]:
    """The console's routes (handlers, routers or controllers), answered in the reader's language. The
    list stays flat, as the tests that read each page's roles walk it."""
    for handler in route_handlers:
        layers = list(getattr(handler, "middleware", None) or [])
        if READERS_LANGUAGE not in layers:
            handler.middleware = [READERS_LANGUAGE, *layers]
    return route_handlers
