"""The inspection templates shipped as seed data (seed/inspection-templates.json).

Read once, when the service is loaded, and held in memory: they change only with a release, and a
broken seed file fails the service at start-up, not mid-job. Every inspection copies its checklist
when it opens, so a later template revision never changes an inspection already under way.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import TypeAdapter

from quality_service.templates.domain import InspectionTemplate, TemplateCatalogue

SEED_FILE = Path(__file__).parent / "seed" / "inspection-templates.json"


def load_catalogue(path: Path = SEED_FILE) -> TemplateCatalogue:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return TemplateCatalogue(TypeAdapter(list[InspectionTemplate]).validate_python(raw["templates"]))


TEMPLATES = load_catalogue()
"""The shipped catalogue."""
