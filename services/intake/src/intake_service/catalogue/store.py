"""The equipment catalogue shipped as seed data (seed/equipment-models.json).

The catalogue changes only with a release: it is read once, when the service is imported, so a
broken seed file fails the start, not a request. It is immutable, so every part of the service
shares the one `CATALOGUE`.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import TypeAdapter

from intake_service.catalogue.domain import Catalogue, EquipmentModel

SEED_FILE = Path(__file__).parent / "seed" / "equipment-models.json"


def load_catalogue(path: Path = SEED_FILE) -> Catalogue:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Catalogue(TypeAdapter(list[EquipmentModel]).validate_python(raw["models"]))


CATALOGUE = load_catalogue()
