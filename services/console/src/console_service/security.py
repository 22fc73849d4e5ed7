"""What a browser may do with the console's pages: load and send only to the console itself, the object
store (photos and signatures go there, and reports come from there, through presigned URLs) and the
identity provider (signing out ends there). Nothing from anywhere else; no page may be framed.

The pages have no inline script or style (data for scripts travels in `<script type="application/json">`,
which is not executed), so the policy needs no 'unsafe-inline' and no nonces.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from compressor_kit.public_pages import SecurityHeaders, policy
from compressor_kit.settings import Settings


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def object_store_origin(settings: Settings) -> str:
    return f"{'https' if settings.s3_secure else 'http'}://{settings.s3_endpoint}"


def content_security_policy(settings: Settings) -> str:
    objects, provider = object_store_origin(settings), origin(settings.oidc_issuer)
    return policy(
        {
            "default-src": "'self'",
            "script-src": "'self'",
            "style-src": "'self'",
            # data: for a drawn signature put back after a refusal; blob: for a photo's preview before upload.
            "img-src": f"'self' data: blob: {objects}",
            "connect-src": f"'self' {objects}",
            "form-action": f"'self' {provider}",
            "frame-ancestors": "'none'",
            "base-uri": "'none'",
            "object-src": "'none'",
        }
    )


def security_headers(settings: Settings) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        # Presigned links and label ids in addresses stay on the console's own origin.
        "Referrer-Policy": "same-origin",
    }


# The policy on every answer of the console, pages and static files alike (the kit's middleware).
SECURITY_HEADERS = SecurityHeaders(security_headers)


def with_security_headers(route_handlers: list[Any]) -> list[Any]:
    """The console's routes and static files, each answering with the security headers (the list stays
    flat for the tests that read each page's roles)."""
    for handler in route_handlers:
        layers = list(getattr(handler, "middleware", None) or [])
        if SECURITY_HEADERS not in layers:
            handler.middleware = [SECURITY_HEADERS, *layers]
    return route_handlers
