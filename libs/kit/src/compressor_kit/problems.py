"""RFC 9457 problem+json for every error a route can raise: refusals, Litestar's own errors (validation,
authentication), the database being down, and anything unexpected."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from pymongo.errors import ConnectionFailure, ExecutionTimeout, ServerSelectionTimeoutError

from compressor_kit.refusals import Refusal, RefusalKind
from compressor_kit.telemetry import route_template

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TITLES = {
    400: "Invalid request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    413: "Request too large",
    422: "Unprocessable request",
    429: "Too many requests",
    503: "Service unavailable",
}


STATUS_OF_REFUSAL = {
    RefusalKind.INVALID: 422,
    RefusalKind.NOT_FOUND: 404,
    RefusalKind.FORBIDDEN: 403,
    RefusalKind.CONFLICT: 409,
    RefusalKind.GONE: 410,
}


def problem_response(request: Request[Any, Any, Any], status: int, detail: str, **extra: Any) -> Response[Any]:
    body = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return Response(body, status_code=status, media_type=PROBLEM_JSON)


def _field_errors(extra: Any) -> list[dict[str, Any]]:
    # Litestar reports validation errors as [{"message", "key", "source"}]; name the field.
    errors = []
    for item in extra if isinstance(extra, list) else []:
        if isinstance(item, dict):
            errors.append({"field": item.get("key") or item.get("source"), "message": item.get("message")})
    return errors


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException):
        extra["errors"] = _field_errors(exc.extra)
    elif isinstance(exc.extra, dict):
        extra.update(exc.extra)
    response = problem_response(request, exc.status_code, exc.detail, **extra)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def refusal_handler(request: Request[Any, Any, Any], refusal: Refusal) -> Response[Any]:
    """A domain refusal as problem+json: its kind gives the status, its issues the named fields."""
    extra: dict[str, Any] = dict(refusal.extra)
    if refusal.issues:
        extra["errors"] = [{"field": issue.field, "message": issue.message} for issue in refusal.issues]
    return problem_response(request, STATUS_OF_REFUSAL[refusal.kind], refusal.detail, **extra)


def database_unavailable_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.warning("database unavailable: %s", exc)
    response = problem_response(request, 503, "the database is unavailable; nothing was written, retry later")
    response.headers["Retry-After"] = "5"
    return response


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # The route's template, never its path: a path may carry a secret (a survey token).
    log.exception("unhandled error on %s %s", request.method, route_template(request.scope))
    return problem_response(request, 500, "an unexpected error occurred")


EXCEPTION_HANDLERS: dict[int | type[Exception], Callable[[Request[Any, Any, Any], Any], Response[Any]]] = {
    Refusal: refusal_handler,
    HTTPException: http_exception_handler,
    ServerSelectionTimeoutError: database_unavailable_handler,
    ConnectionFailure: database_unavailable_handler,  # includes the outbox's DatabaseUnavailable
    # A transaction out of time (mongodb_transaction_timeout_seconds) under contention: also "retry later".
    ExecutionTimeout: database_unavailable_handler,
    Exception: unexpected_error_handler,
}
