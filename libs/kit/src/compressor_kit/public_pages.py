"""Pages anyone may open without signing in (a survey link, a machine's QR label): what a browser may do
with them, and how often one address may ask. Written once for every service that serves such pages.

    @get("/surveys/{token:str}", **public(), guards=[per_address(survey_rate)], middleware=[SURVEY_HEADERS])

- `SecurityHeaders(headers_of)`: every answer of the routes it wraps (pages, refusals, errors, 429s)
  carries the headers `headers_of(settings)` names: Content-Security-Policy (with frame-ancestors),
  X-Content-Type-Options: nosniff, Referrer-Policy. A header the handler set itself wins.
- `per_address(rate_of)`: a guard counting each request per client address in MongoDB
  (`compressor_kit.rate_limits`, shared by every replica); over the limit it raises
  TooManyRequestsException with Retry-After: problem+json through the kit's handlers, or the
  service's own page where the route maps the exception to one (`exception_handlers`).

The client address is the connection's peer as uvicorn reports it. uvicorn takes X-Forwarded-For
instead only when the peer is a trusted proxy (FORWARDED_ALLOW_IPS, by default 127.0.0.1 alone), so a
client elsewhere cannot pick its own address by sending the header.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from compressor_kit import rate_limits

UNKNOWN_ADDRESS = "unknown"

HeadersOf = Callable[[Any], Mapping[str, str]]
"""The security headers for a service's settings."""


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The address a request came from (see the module's note on proxies)."""
    return connection.client.host if connection.client else UNKNOWN_ADDRESS


def policy(directives: Mapping[str, str]) -> str:
    """A Content-Security-Policy from its directives, in order."""
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class SecurityHeaders(ASGIMiddleware):
    """The security headers on every answer of the routes it wraps, pages and refusals alike."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, headers_of: HeadersOf) -> None:
        self.headers_of = headers_of

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        settings = ASGIConnection(scope).app.state.runtime.settings
        headers = [(name.lower().encode(), value.encode()) for name, value in self.headers_of(settings).items()]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((name, value) for name, value in headers if name not in present),
                ]
            await send(message)

        await next_app(scope, receive, with_headers)


def per_address(
    rate_of: Callable[[Any], rate_limits.RateLimit],
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Any]:
    """A guard allowing each client address `rate_of(settings)` requests per window (refused ones count)."""

    async def within_rate(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        runtime = connection.app.state.runtime
        rate = rate_of(runtime.settings)
        allowance = await rate_limits.take(runtime.db, rate, client_address(connection), runtime.clock.now())
        if not allowance.allowed:
            raise TooManyRequestsException(
                detail=f"too many requests from this address; retry in {allowance.retry_after_seconds} s",
                headers={"Retry-After": str(allowance.retry_after_seconds)},
            )

    return within_rate


def retry_after(exc: TooManyRequestsException) -> str:
    """The refusal's Retry-After (seconds), for a page that says it."""
    return (exc.headers or {}).get("Retry-After", "60")
