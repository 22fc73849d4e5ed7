"""The register maps shipped with the service: one data file per controller family in maps/, named
after the family (`kaeser-sigma.json` serves devices whose controller_family is 'kaeser-sigma')."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from telemetry_service.modbus.domain import RegisterMap

MAPS = Path(__file__).parent / "maps"


@cache
def register_maps() -> dict[str, RegisterMap]:
    """Every family's map, read and checked once (a map that is not valid stops the service's start:
    it is a file of the release, not input)."""
    found = {}
    for path in sorted(MAPS.glob("*.json")):
        register_map = RegisterMap.model_validate(json.loads(path.read_text("utf-8")))
        if register_map.family != path.stem:
            raise ValueError(f"{path.name} declares family {register_map.family!r}: name the file after it")
        found[path.stem] = register_map
    return found


def for_family(family: str) -> RegisterMap | None:
    return register_maps().get(family)
