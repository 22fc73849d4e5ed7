"""The documents in docs/ are generated from the code, and `make docs` keeps them current."""

import importlib
import json
from pathlib import Path

import pytest

from compressor_contracts import CATALOGUE, SERVICES
from compressor_contracts.docs import catalogue_markdown
from compressor_kit.asyncapi import document

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_event_catalogue_is_current():
    assert (DOCS / "events.md").read_text() == catalogue_markdown(), "run `make docs`"


def test_there_is_a_schema_for_every_event():
    assert sorted(p.name for p in (DOCS / "schemas").glob("*.json")) == sorted(f"{key}.json" for key in CATALOGUE)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_asyncapi_document_is_current_and_lists_what_it_publishes(service):
    definition = importlib.import_module(f"{service}_service.app").SERVICE
    generated = document(definition)
    assert (DOCS / "asyncapi" / f"{service}.json").read_text().strip() == generated.strip(), "run `make docs`"
    channels = json.loads(generated)["channels"]
    produced = {key for key, data in CATALOGUE.items() if data.producer == service}
    assert produced <= set(channels)
