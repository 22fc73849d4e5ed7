"""The generated artefacts: JSON Schemas per event and the markdown catalogue."""

import json
import subprocess
import sys

from compressor_contracts import CATALOGUE, consumers_of

ENVELOPE = {"id", "source", "specversion", "type", "time", "subject", "datacontenttype", "correlationid", "causationid"}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "compressor_contracts", *args], capture_output=True, text=True, check=True
    )


def test_schemas_command_writes_one_envelope_schema_per_event(tmp_path):
    run("schemas", str(tmp_path / "schemas"))

    files = sorted(p.name for p in (tmp_path / "schemas").iterdir())
    assert files == sorted(f"{key}.json" for key in CATALOGUE)
    for key, cls in CATALOGUE.items():
        schema = json.loads((tmp_path / "schemas" / f"{key}.json").read_text())
        assert schema["title"] == key
        assert ENVELOPE | {"data"} == set(schema["properties"])
        assert {"id", "source", "specversion", "type", "time", "subject", "data"} <= set(schema["required"])
        assert schema["properties"]["type"]["const"] == cls.event_type()
        assert schema["additionalProperties"] is False
        data_ref = schema["properties"]["data"]["$ref"].rsplit("/", 1)[-1]
        data_schema = schema["$defs"][data_ref]
        assert data_schema["additionalProperties"] is False
        assert set(data_schema["properties"]) == set(cls.model_fields)


def test_catalogue_command_writes_markdown_for_integrators(tmp_path):
    target = tmp_path / "docs" / "events.md"
    run("catalogue", str(target))

    text = target.read_text()
    assert "compressor.events" in text
    assert "application/cloudevents+json" in text
    assert "traceparent" in text
    assert "message_id" in text
    for key, cls in CATALOGUE.items():
        assert f"### {key}" in text
        assert cls.event_type() in text
        section = text.split(f"### {key}", 1)[1].split("\n### ", 1)[0]
        assert f"producer: {cls.producer}" in section
        for _, queue in consumers_of(key):
            assert f"`{queue}`" in section
        for field in cls.model_fields:
            assert f"| `{field}` |" in section, f"{key}.{field} missing from the field table"
    assert "| `data.equipment` |" not in text  # payload tables are relative to data
    assert "| `equipment.serial_number` |" in text  # nested fields are flattened
    assert "| `csat` | integer, 1-5 | yes |" in text
