"""Each service's OpenAPI document: what the kit adds to Litestar's, and `python -m compressor_kit.openapi`.

Litestar builds the document from the routes; the kit adds what every operation shares (the
problem+json answers it can give), says which request bodies are closed, and gives each
operation's JSON answer the example its model declares (`json_schema_extra={"examples": [...]}`).
`python -m compressor_kit.openapi <dir> <service>...` writes `<dir>/<service>.json`; a test keeps
docs/openapi/ current.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any, get_args, get_origin

from litestar import Litestar
from litestar.openapi.spec import (
    Example,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
)
from pydantic import BaseModel

from compressor_kit.pagination import Page
from compressor_kit.problems import PROBLEM_JSON

PROBLEM_SCHEMA_NAME = "ProblemDetails"


def _problem_schema() -> Schema:
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


def document_problems(app: Litestar) -> None:
    """Declare in the app's OpenAPI document the problem+json answers every operation can give.

    Every operation: 400 (malformed), 422 (a value refused, named), 503 (database down). Protected
    ones: 401 and 403. With path parameters: 404. With a body: 413. Writes: 409. What a handler
    declares itself (`responses=`) is kept, except 400: Litestar's default is not what the kit answers."""
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
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation.__name__ in found:
            return
        found[annotation.__name__] = annotation
        for field in annotation.model_fields.values():
            _models_in(field.annotation, found)
        return
    for argument in get_args(annotation):
        _models_in(argument, found)


def document_closed_bodies(app: Litestar) -> None:
    """Litestar leaves `additionalProperties` out of the schemas it builds from pydantic models; say
    `false` for every request model that forbids unknown fields (`extra="forbid"`), as it does."""
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


def model_example(annotation: Any) -> Any:
    """The example a response or request annotation declares: a model's first `examples` entry, a list
    of it, or a page of it. None when it declares none."""
    origin = get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        [item] = get_args(annotation)[:1] or [None]
        example = model_example(item)
        return None if example is None else [example]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        metadata = annotation.__pydantic_generic_metadata__
        if metadata["origin"] is Page and metadata["args"]:
            item = model_example(metadata["args"][0])
            return None if item is None else {"items": [item], "total": 1, "limit": 50, "offset": 0}
        extra = annotation.model_config.get("json_schema_extra")
        examples = extra.get("examples") if isinstance(extra, dict) else None
        return examples[0] if isinstance(examples, list) and examples else None
    arguments = [a for a in get_args(annotation) if a is not type(None)]
    if len(arguments) == 1:  # Optional[X], Annotated[X, ...]
        return model_example(arguments[0])
    return None


def document_examples(app: Litestar) -> None:
    """Give each operation's JSON answer, and its JSON request body, the example its model declares."""
    paths = app.openapi_schema.paths or {}
    for route in app.routes:
        item = paths.get(route.path_format or "/")
        if item is None:
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                operation = getattr(item, method.lower(), None)
                if operation is None:
                    continue
                signature = handler.parsed_fn_signature
                returned = model_example(signature.return_type.annotation)
                success = next((r for status, r in (operation.responses or {}).items() if status.startswith("2")), None)
                if returned is not None and isinstance(success, OpenAPIResponse):
                    media = (success.content or {}).get("application/json")
                    if media is not None:
                        media.examples = {"example": Example(value=returned)}
                data = signature.parameters.get("data")
                body = operation.request_body
                if data is not None and body is not None and not isinstance(body, Reference):
                    sent = model_example(data.annotation)
                    media = body.content.get("application/json")
                    if sent is not None and media is not None:
                        media.examples = {"example": Example(value=sent)}


def document(app: Litestar) -> str:
    return json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True)


def service_document(service: str) -> str:
    """The OpenAPI document of `service`, as its app serves it at /schema/openapi.json."""
    from compressor_kit.http import create_app  # the app module documents itself with this one

    definition = importlib.import_module(f"{service}_service.app").SERVICE
    return document(create_app(definition))


def main(argv: list[str]) -> None:
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for name in argv[1:]:
        path = out / f"{name}.json"
        path.write_text(service_document(name) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
