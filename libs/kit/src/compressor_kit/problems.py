"""RFC 9457 problem+json for every error a route can raise."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError

from compressor_kit.refusals import Refusal, RefusalKind

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
    503: "Service unavailable",
}


class Problem(HTTPException):
    """Raise from a handler for a domain error: `raise Problem(409, "plan already approved", field="plan_id")`."""

    def __init__(self, status_code: int, detail: str, *, field: str | None = None, **extra: Any) -> None:
        errors = [{"field": field, "message": detail}] if field else None
        super().__init__(
            detail=detail, status_code=status_code, extra={**extra, **({"errors": errors} if errors else {})}
        )


STATUS_OF_REFUSAL = {
    RefusalKind.INVALID: 422,
    RefusalKind.NOT_FOUND: 404,
    RefusalKind.FORBIDDEN: 403,
    RefusalKind.CONFLICT: 409,
    RefusalKind.GONE: 410,
}


def problem_response(request: Request, status: int, detail: str, **extra: Any) -> Response:
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


def http_exception_handler(request: Request, exc: HTTPException) -> Response:
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException):
        extra["errors"] = _field_errors(exc.extra)
    elif isinstance(exc.extra, dict):
        extra.update(exc.extra)
    response = problem_response(request, exc.status_code, exc.detail, **extra)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def refusal_handler(request: Request, refusal: Refusal) -> Response:
    """A domain refusal as problem+json: its kind gives the status, its issues the named fields."""
    extra: dict[str, Any] = dict(refusal.extra)
    if refusal.issues:
        extra["errors"] = [{"field": issue.field, "message": issue.message} for issue in refusal.issues]
    return problem_response(request, STATUS_OF_REFUSAL[refusal.kind], refusal.detail, **extra)


def database_unavailable_handler(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc)
    response = problem_response(request, 503, "the database is unavailable; nothing was written, retry later")
    response.headers["Retry-After"] = "5"
    return response


def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(request, 500, "an unexpected error occurred")


EXCEPTION_HANDLERS = {
    Refusal: refusal_handler,
    HTTPException: http_exception_handler,
    ServerSelectionTimeoutError: database_unavailable_handler,
    ConnectionFailure: database_unavailable_handler,
    Exception: unexpected_error_handler,
}


PROBLEM_SCHEMA_NAME = "ProblemDetails"


def _problem_schema() -> Any:
    from litestar.openapi.spec import OpenAPIType, Schema

    text, nullable_text = Schema(type=OpenAPIType.STRING), Schema(type=[OpenAPIType.STRING, OpenAPIType.NULL])
    return Schema(
        type=OpenAPIType.OBJECT,
        description="RFC 9457 problem+json, as every refusal and error is answered.",
        required=["type", "title", "status", "detail", "instance"],
        properties={
            "type": text,
            "title": text,
            "status": Schema(type=OpenAPIType.INTEGER),
            "detail": text,
            "instance": text,
            "errors": Schema(
                type=OpenAPIType.ARRAY,
                description="Each refused field and why.",
                items=Schema(type=OpenAPIType.OBJECT, properties={"field": nullable_text, "message": nullable_text}),
            ),
        },
    )


_DESCRIPTIONS = {
    400: "The request is malformed or a field is invalid (each field named); nothing was written.",
    401: "No valid bearer token.",
    403: "The token lacks the role this route needs, or the caller may not act on this resource.",
    404: "No such resource.",
    409: "The resource is not in a state that allows this; nothing was written.",
    410: "The resource can no longer be acted on.",
    413: "The request body is larger than the limit.",
    422: "The request is well formed but cannot be carried out as sent; nothing was written.",
    503: "A dependency (the database) is unavailable; nothing was written, retry later.",
}


def document_problems(app: Any) -> None:
    """Declare in the app's OpenAPI document the problem+json answers every operation can give.

    Every operation: 400 (malformed), 422 (a value refused, named), 503 (database down). Protected
    ones: 401 and 403. With path parameters: 404. With a body: 413. Writes: 409. What a handler
    declares itself (`responses=`) is kept, except 400: Litestar's default is not what the kit answers."""
    from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Reference

    document = app.openapi_schema
    problem = Reference(ref=f"#/components/schemas/{PROBLEM_SCHEMA_NAME}")
    schemas = document.components.schemas
    schemas[PROBLEM_SCHEMA_NAME] = _problem_schema()
    for item in (document.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            statuses = {400, 422, 503}  # 422: a value the handler refuses (a filter, a state), named
            if operation.security:
                statuses |= {401, 403}
            if any(getattr(p, "param_in", None) == "path" for p in operation.parameters or []):
                statuses.add(404)
            if operation.request_body is not None:
                statuses.add(413)
            if method != "get":
                statuses.add(409)
            responses = operation.responses if operation.responses is not None else {}
            for status in sorted(statuses):
                if status != 400 and str(status) in responses:
                    continue  # the handler declared this answer itself
                responses[str(status)] = OpenAPIResponse(
                    description=_DESCRIPTIONS[status],
                    content={
                        PROBLEM_JSON: OpenAPIMediaType(schema=problem),
                    },
                )
            operation.responses = responses


def _models_in(annotation: Any, found: dict[str, type]) -> None:
    """Every pydantic model reachable from a type annotation (through containers, unions, fields)."""
    import typing

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation.__name__ in found:
            return
        found[annotation.__name__] = annotation
        for field in annotation.model_fields.values():
            _models_in(field.annotation, found)
        return
    for argument in typing.get_args(annotation):
        _models_in(argument, found)


def document_closed_bodies(app: Any) -> None:
    """Litestar leaves `additionalProperties` out of the schemas it builds from pydantic models; say
    `false` for every request model that forbids unknown fields (`extra="forbid"`), as it does."""
    from litestar.openapi.spec import Schema

    models: dict[str, type] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is not None:
                _models_in(data.annotation, models)
    schemas = app.openapi_schema.components.schemas
    for name, model in models.items():
        schema = schemas.get(name)
        if isinstance(schema, Schema) and model.model_config.get("extra") == "forbid":  # type: ignore[attr-defined]
            schema.additional_properties = False
