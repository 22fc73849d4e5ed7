"""The services' seed data describe the same compressors: every model a maintenance procedure or an
inspection template names is one intake can register, of the same compressor type, and every type
in the catalogue has a procedure and a template to fall back on. What the customer reads of them
(procedure steps, indicator names and corrective actions) has its Malay text as well.

The services stay independent at run time (each ships its own seed); this only keeps the shipped
data consistent, so a model-specific procedure or template is never dead data."""

import json
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parent.parent / "services"
CATALOGUE = SERVICES / "intake/src/intake_service/catalogue/seed/equipment-models.json"
PROCEDURES = SERVICES / "maintenance/src/maintenance_service/planning/seed/procedures.json"
TEMPLATES = SERVICES / "quality/src/quality_service/templates/seed/inspection-templates.json"


def catalogue() -> dict[str, str]:
    return {m["model_code"]: m["compressor_type"] for m in json.loads(CATALOGUE.read_text())["models"]}


def procedures() -> list[dict]:
    return json.loads(PROCEDURES.read_text())["procedures"]


def templates() -> list[dict]:
    return json.loads(TEMPLATES.read_text())["templates"]


SEEDS = [(p["procedure_id"], p) for p in procedures()] + [(t["template_id"], t) for t in templates()]


@pytest.mark.parametrize(("seed_id", "seed"), SEEDS, ids=[seed_id for seed_id, _ in SEEDS])
def test_every_model_a_procedure_or_template_names_is_in_the_catalogue_with_its_type(seed_id, seed):
    models = catalogue()
    for code in seed["model_codes"]:
        assert code in models, f"{seed_id} names {code}, which intake's catalogue does not have"
        assert models[code] == seed["compressor_type"], f"{seed_id}: {code} is a {models[code]}"


@pytest.mark.parametrize("seed_kind", [procedures, templates], ids=["procedures", "templates"])
def test_every_compressor_type_in_the_catalogue_has_a_generic_seed_to_fall_back_on(seed_kind):
    generic_types = {seed["compressor_type"] for seed in seed_kind() if not seed["model_codes"]}
    assert set(catalogue().values()) <= generic_types


def _lacking_malay(english: str, malay: object) -> bool:
    """No Malay, or the English copied over."""
    return not isinstance(malay, str) or not malay.strip() or malay.strip() == english.strip()


@pytest.mark.parametrize("procedure", procedures(), ids=[p["procedure_id"] for p in procedures()])
def test_every_step_of_a_procedure_has_its_malay_text_for_the_customer(procedure):
    lacking = [s["step_id"] for s in procedure["steps"] if _lacking_malay(s["description"], s.get("description_ms"))]
    assert not lacking, f"{procedure['procedure_id']}: steps without a Malay description_ms: {lacking}"


@pytest.mark.parametrize("template", templates(), ids=[t["template_id"] for t in templates()])
def test_every_indicator_of_a_template_has_its_malay_name_and_corrective_action(template):
    lacking = [
        f"{i['code']}.{field}_ms"
        for i in template["indicators"]
        for field in ("name", "corrective_action")
        if _lacking_malay(i[field], i.get(f"{field}_ms"))
    ]
    assert not lacking, f"{template['template_id']} lacks Malay: {lacking}"
