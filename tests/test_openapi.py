"""Each service's HTTP contract: generated into docs/openapi/, typed, tagged and with examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compressor_contracts import SERVICES
from compressor_kit.openapi import service_document

DOCS = Path(__file__).resolve().parents[1] / "docs" / "openapi"
METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module", params=SERVICES)
def generated(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param, service_document(request.param)


def operations(document: dict[str, Any]):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def success_responses(operation: dict[str, Any]) -> dict[str, Any]:
    return {status: answer for status, answer in operation["responses"].items() if status.startswith("2")}


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def is_typed(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A schema that says what is inside: not `{}`, not an object without properties, not a list of such."""
    schema = resolve(document, schema)
    if "oneOf" in schema or "anyOf" in schema:
        variants = [v for v in schema.get("oneOf", schema.get("anyOf", [])) if v.get("type") != "null"]
        return bool(variants) and all(is_typed(document, v) for v in variants)
    if schema.get("type") == "array":
        return is_typed(document, schema.get("items", {}))
    if schema.get("type") == "object":
        return bool(schema.get("properties"))
    return bool(schema.get("type"))


def examples_of(operation: dict[str, Any]) -> list[Any]:
    found = []
    for parameter in operation.get("parameters", []):
        found += list(parameter.get("examples", {}).values())
        found += [parameter["example"]] if "example" in parameter else []
    for media in operation.get("requestBody", {}).get("content", {}).values():
        found += list(media.get("examples", {}).values())
    for answer in success_responses(operation).values():
        for media in answer.get("content", {}).values():
            found += list(media.get("examples", {}).values())
    return found


def test_the_generated_documents_are_current(generated):
    service, document = generated
    assert (DOCS / f"{service}.json").read_text().strip() == document.strip(), "run `make docs`"


def test_every_operation_answers_a_typed_model_with_tags_and_an_example(generated):
    service, text = generated
    document = json.loads(text)
    untyped, untagged, without_example = [], [], []
    for name, operation in operations(document):
        if not operation.get("tags"):
            untagged.append(name)
        if not examples_of(operation):
            without_example.append(name)
        for status, answer in success_responses(operation).items():
            json_media = answer.get("content", {}).get("application/json")
            if json_media is None:
                continue  # a file, a redirect or no content: nothing to type
            if not is_typed(document, json_media.get("schema", {})):
                untyped.append(f"{name} {status}")
            elif not json_media.get("examples"):
                without_example.append(f"{name} {status} (answer)")
    assert not untyped, f"{service}: untyped answers: {untyped}"
    assert not untagged, f"{service}: operations without tags: {untagged}"
    assert not without_example, f"{service}: no example: {without_example}"


def test_the_typing_rule_would_see_an_untyped_answer():
    document: dict[str, Any] = {"components": {"schemas": {"Open": {"type": "object"}}}}
    assert not is_typed(document, {})
    assert not is_typed(document, {"$ref": "#/components/schemas/Open"})
    assert not is_typed(document, {"type": "array", "items": {"type": "object"}})
    assert is_typed(document, {"type": "object", "properties": {"id": {"type": "string"}}})
