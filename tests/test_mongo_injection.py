"""Nothing a client sends becomes a MongoDB operator or field path.

Walked from each service's OpenAPI document, so every endpoint that writes (a JSON body) or filters
(query parameters) is covered: keys starting with `$` or containing `.`, and objects where a scalar
is expected, are refused with 400/422 problem+json naming the field, and nothing is written.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from compressor_contracts import SERVICES, StaffRole
from compressor_kit.auth import ALL_ROLES
from compressor_kit.http import create_app

pytestmark = pytest.mark.slow

PATH_PARAM = re.compile(r"\{[^}]+\}")


def _answers_html(operation: dict[str, Any]) -> bool:
    return any("text/html" in (answer.get("content") or {}) for answer in operation.get("responses", {}).values())


OPERATOR = {"$ne": None}
HOSTILE_KEYS = ("$where", "$set", "status.$", "a.b")
# Written by background loops (lease, schedule, seed), or counting requests per address (the public pages' limits).
BOOKKEEPING = {"outbox_lease", "backup_schedule", "stock", "rate_limits"}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _is_scalar(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A property that takes a string, number or boolean (possibly or null), never an object."""
    schema = _resolve(document, schema)
    options = [_resolve(document, o) for o in schema.get("oneOf", schema.get("anyOf", [schema]))]
    kinds = set()
    for option in options:
        kind = option.get("type")
        kinds |= set(kind) if isinstance(kind, list) else {kind}
        if "enum" in option:
            kinds.add("string")
    kinds.discard("null")
    return bool(kinds) and kinds <= {"string", "integer", "number", "boolean"}


def _json_body_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                schema = _resolve(document, body["schema"])
                if "oneOf" in schema:  # an optional body: its object option
                    schema = next(_resolve(document, o) for o in schema["oneOf"] if o.get("type") != "null")
                found.append((method.upper(), PATH_PARAM.sub("1", path), schema))
    return found


def _total_documents(db) -> dict[str, int]:
    return {name: db[name].count_documents({}) for name in db.list_collection_names() if name not in BOOKKEEPING}


def _names_field(response, field: str) -> bool:
    return any(field in str(error.get("field")) for error in response.json().get("errors", []))


@pytest.mark.parametrize("service", SERVICES)
async def test_operator_keys_and_objects_for_scalars_are_refused_and_nothing_is_written(
    service, test_settings, tokens, test_db, monkeypatch
):
    monkeypatch.setenv("DISPATCH_SEED_ENGINEERS", "false")  # no demo engineers appearing mid-test
    definition = importlib.import_module(f"{service}_service.app").SERVICE
    app = create_app(definition, test_settings)
    document = app.openapi_schema.to_schema()
    operations = _json_body_operations(document)
    headers = {"Authorization": f"Bearer {tokens.mint('user-1', [str(role) for role in ALL_ROLES])}"}
    async with AsyncTestClient(app) as client:
        before = _total_documents(test_db)
        for method, path, schema in operations:
            for key in HOSTILE_KEYS:
                response = await client.request(method, path, json={key: {"$gt": ""}}, headers=headers)
                assert response.status_code in (400, 422), (method, path, key, response.text)
                assert response.headers["content-type"].startswith("application/problem+json")
                assert _names_field(response, key), (method, path, key, response.text)
            for name, prop in schema.get("properties", {}).items():
                if _is_scalar(document, prop):
                    response = await client.request(method, path, json={name: OPERATOR}, headers=headers)
                    assert response.status_code in (400, 422), (method, path, name, response.text)
                    assert _names_field(response, name), (method, path, name, response.text)
        assert _total_documents(test_db) == before
    assert operations or service == "quality" or service == "reporting" or service == "feedback"


@pytest.mark.parametrize("service", SERVICES)
async def test_query_filters_take_operators_as_plain_text(service, test_settings, tokens):
    """Query parameters are strings or typed scalars: `{"$ne": null}` or `a[$ne]=` is text, never an
    operator; the answer is a 2xx (matching nothing) or a 4xx problem+json, never a 5xx."""
    definition = importlib.import_module(f"{service}_service.app").SERVICE
    app = create_app(definition, test_settings)
    document = app.openapi_schema.to_schema()
    headers = {"Authorization": f"Bearer {tokens.mint('user-1', [str(role) for role in ALL_ROLES])}"}
    async with AsyncTestClient(app) as client:
        for path, item in document["paths"].items():
            operation = item.get("get")
            if operation is None:
                continue
            url = PATH_PARAM.sub("1", path)
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            for name in names:
                plain = await client.get(url, params={name: "no-such-value"}, headers=headers)
                for params in ({name: '{"$ne": null}'}, {name: "$where"}, {name: ".*"}, {f"{name}[$ne]": "x"}):
                    response = await client.get(url, params=params, headers=headers)
                    assert response.status_code < 500, (path, params, response.text)
                    if response.status_code >= 400:
                        # An API refuses with problem+json; a page for browsers (the survey form) may also
                        # answer its own refusal as a page.
                        expected = (
                            ("application/problem+json", "text/html")
                            if _answers_html(operation)
                            else ("application/problem+json",)
                        )
                        assert response.headers["content-type"].startswith(expected), (path, params)
                    elif _answers_html(operation):
                        continue  # a page: the same text selects the same page, checked by the page's tests
                    elif f"{name}[$ne]" not in params and plain.status_code == 200:  # (unknown names are ignored)
                        # an operator-looking value selects what any text that matches nothing selects
                        assert response.json() == plain.json(), (path, params, response.text)


async def test_a_name_filter_is_matched_as_text_not_as_a_pattern_or_operator(test_settings, tokens):
    definition = importlib.import_module("intake_service.app").SERVICE
    app = create_app(definition, test_settings)
    headers = {"Authorization": f"Bearer {tokens.mint('reception-1', [StaffRole.RECEPTION.value])}"}
    async with AsyncTestClient(app) as client:
        created = await client.post(
            "/customers",
            json={"name": "Acme Textiles", "contacts": [{"name": "Siti", "email": "siti@acme.example"}]},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        assert len((await client.get("/customers", params={"name": "acme"}, headers=headers)).json()["items"]) == 1
        for hostile in (".*", '{"$ne": null}', "^", "$where"):
            found = await client.get("/customers", params={"name": hostile}, headers=headers)
            assert found.status_code == 200, found.text
            assert found.json()["items"] == [], (hostile, found.text)
