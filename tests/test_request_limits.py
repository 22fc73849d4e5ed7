"""Hostile input, cheaply: every request body of every service is bounded and closed, read from the
OpenAPI documents (so a new route cannot slip through), and the kit refuses oversized bodies."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from compressor_contracts import SERVICES, StaffRole
from compressor_kit.http import MAX_BODY_BYTES, create_app
from compressor_kit.settings import Settings

UNBOUNDED_STRING_FORMATS = {"date-time", "date", "time", "uuid"}  # fixed-size by their grammar
# Survey scores are any JSON scalar, judged by the survey rules (1-5, 0-10, 422) before anything is stored.
JUDGED_BY_RULES = ("<SurveyAnswerIn>.csat|1", "<SurveyAnswerIn>.nps|1")
BOUNDS = ("maxLength", "maxItems", "pattern", "enum", "const", "format")
UNBOUNDED_REPEAT = re.compile(r"(?<!\\)[*+]|\{\d+,\}")


def _bounded_pattern(pattern: str) -> bool:
    """An anchored pattern with no open-ended repetition bounds its string's length."""
    return pattern.startswith("^") and pattern.endswith("$") and not UNBOUNDED_REPEAT.search(pattern)


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = document["components"]["schemas"][name]
    return schema


def _problems(document: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    """Every place under `schema` that accepts unknown fields, unbounded strings or unbounded arrays."""
    if "$ref" in schema:
        ref = schema["$ref"]
        if ref in seen:
            return []
        seen = seen | {ref}
        return _problems(document, _resolve(document, schema), f"{where}<{ref.rsplit('/', 1)[1]}>", seen)
    found: list[str] = []
    inherited = {
        key: schema[key] for key in (*BOUNDS, "minimum", "maximum") if key in schema
    }  # Litestar puts an Optional's bounds outside
    for key in ("oneOf", "anyOf", "allOf"):
        for index, option in enumerate(schema.get(key, [])):
            option = option if "$ref" in option else {**inherited, **option}
            found += _problems(document, option, f"{where}|{index}", seen)
    types = schema.get("type")
    types = set(types) if isinstance(types, list) else {types}
    if "object" in types or "properties" in schema:
        if schema.get("additionalProperties", True) is not False:
            found.append(f"{where}: an object that accepts unknown fields")
        for name, sub in schema.get("properties", {}).items():
            found += _problems(document, sub, f"{where}.{name}", seen)
    if "string" in types and not (
        "maxLength" in schema
        or "enum" in schema
        or "const" in schema
        or schema.get("format") in UNBOUNDED_STRING_FORMATS
        or _bounded_pattern(schema.get("pattern", ""))
    ):
        found.append(f"{where}: a string without maxLength")
    # (Litestar leaves out a `minimum` of 0, so only the maximum can be read from every document.)
    if "integer" in types and "maximum" not in schema and not where.endswith(JUDGED_BY_RULES):
        found.append(f"{where}: an integer without a maximum (MongoDB stores 64 bits)")
    if "array" in types:
        if "maxItems" not in schema and "maxLength" not in schema:  # Litestar renders an Optional list's bound so
            found.append(f"{where}: an array without maxItems")
        found += _problems(document, schema.get("items", {}), f"{where}[]", seen)
    if not types - {None} and not any(k in schema for k in ("oneOf", "anyOf", "allOf", "enum", "const", "properties")):
        found.append(f"{where}: a value of any type")
    return found


def _document(service: str) -> dict[str, Any]:
    definition = importlib.import_module(f"{service}_service.app").SERVICE
    return create_app(definition, Settings(environment="test")).openapi_schema.to_schema()


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_body_forbids_unknown_fields_and_bounds_strings_and_lists(service):
    document = _document(service)
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            for media_type, body in content.items():
                if media_type == "application/x-www-form-urlencoded":
                    continue  # a browser's form (the survey): only the known fields are read, the body is size-limited
                found += _problems(document, body["schema"], f"{method.upper()} {path} ({media_type})", set())
    assert not found, "\n".join(found)


@pytest.mark.parametrize("service", SERVICES)
def test_every_integer_parameter_is_bounded(service):
    """A query or path integer out of MongoDB's 64 bits once answered 500 (reporting's record version)."""
    document = _document(service)
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                options = schema.get("oneOf", [schema])
                if any(o.get("type") == "integer" for o in options):
                    found += _problems(document, schema, f"{method.upper()} {path} {parameter['name']}", set())
    assert not found, "\n".join(found)


async def test_a_body_over_the_limit_is_refused_with_413(test_settings, tokens, test_db):
    definition = importlib.import_module("intake_service.app").SERVICE
    app = create_app(definition, test_settings)
    token = tokens.mint("reception-1", [StaffRole.RECEPTION.value])
    async with AsyncTestClient(app) as client:
        response = await client.post(
            "/customers",
            content=b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}',
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert response.status_code == 413, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 413
    assert test_db["customers"].count_documents({}) == 0


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_documents_its_refusals_as_problem_json(service):
    """What the fuzzer holds the services to: 400, 422 and 503 everywhere, 401/403 where protected,
    404 with path parameters, 413 with a body; every error answer problem+json (or an HTML page for
    the customer's survey form)."""
    document = _document(service)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            expected = {"400", "422", "503"}
            if operation.get("security"):
                expected |= {"401", "403"}
            if any(p["in"] == "path" for p in operation.get("parameters", [])):
                expected.add("404")
            if "requestBody" in operation:
                expected.add("413")
            assert expected <= responses.keys(), (method, path, sorted(responses))
            for status, response in responses.items():
                if int(status) >= 400:
                    media_types = set(response.get("content", {}))
                    assert media_types in ({"application/problem+json"}, {"text/html"}), (method, path, status)
            problem = responses["400"]["content"]["application/problem+json"]["schema"]
            assert problem == {"$ref": "#/components/schemas/ProblemDetails"}, (method, path)


async def test_a_version_beyond_64_bits_is_refused_not_a_server_error(test_settings, tokens):
    """Found by the fuzzer: `?version=-10376356193393503633408` reached MongoDB and answered 500."""
    definition = importlib.import_module("reporting_service.app").SERVICE
    app = create_app(definition, test_settings)
    token = tokens.mint("manager-1", [StaffRole.MANAGER.value])
    async with AsyncTestClient(app) as client:
        for path in ("/jobs/JOB-1/record", "/jobs/JOB-1/report-link"):
            response = await client.get(
                path, params={"version": "-10376356193393503633408"}, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 400, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["errors"][0]["field"] == "version"
