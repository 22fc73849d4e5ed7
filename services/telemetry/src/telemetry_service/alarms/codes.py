"""What a controller's alarm code means, in its register map's words.

The register maps (telemetry_service/modbus/maps/, one data file per controller family) list each
family's alarm and warning codes with their descriptions. A code no map describes is shown as itself:
the engineer still sees what the controller said.
"""

from __future__ import annotations

import json
import logging
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAPS = Path(__file__).parent.parent / "modbus" / "maps"
CODE_TABLES = ("alarms", "warnings", "alarm_codes", "warning_codes")


def describe(code: str, family: str) -> str:
    """The description of `code` in the family's register map, else in any map, else the code itself."""
    tables = descriptions()
    return tables.get(family, {}).get(code) or next((table[code] for table in tables.values() if code in table), code)


@cache
def descriptions() -> dict[str, dict[str, str]]:
    """Code -> description per controller family (the map file's name), read once."""
    found: dict[str, dict[str, str]] = {}
    if not MAPS.is_dir():
        return found
    for path in sorted(MAPS.iterdir()):
        try:
            document = _load(path)
        except (OSError, ValueError) as error:
            log.warning("register map %s unreadable for alarm descriptions: %s", path.name, error)
            continue
        if document is not None:
            found[path.stem] = _code_table(document)
    return found


def _load(path: Path) -> Any:
    if path.suffix == ".json":
        return json.loads(path.read_text("utf-8"))
    if path.suffix == ".toml":
        return tomllib.loads(path.read_text("utf-8"))
    return None


def _code_table(document: object) -> dict[str, str]:
    """Every code table in the map, wherever it sits: {code: description}, {code: {description: ...}}
    or [{code: ..., description: ...}]."""
    table: dict[str, str] = {}
    if isinstance(document, dict):
        for key, value in document.items():
            if key in CODE_TABLES:
                table.update(_entries(value))
            else:
                table.update(_code_table(value))
    elif isinstance(document, list):
        for item in document:
            table.update(_code_table(item))
    return table


def _entries(value: object) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(code): _text(entry) for code, entry in value.items() if _text(entry)}
    if isinstance(value, list):
        return {
            str(entry["code"]): _text(entry)
            for entry in value
            if isinstance(entry, dict) and "code" in entry and _text(entry)
        }
    return {}


def _text(entry: object) -> str:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        return str(entry.get("description") or entry.get("text") or "")
    return ""
