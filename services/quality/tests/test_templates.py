"""The shipped inspection templates: complete, consistent, and chosen by model then by type."""

from datetime import date

import pytest

from compressor_contracts.common import CompressorType, Equipment
from quality_service.templates.catalogue import TEMPLATES
from quality_service.templates.domain import InspectionTemplate, TemplateCatalogue


def unit(compressor_type: CompressorType, model_code: str = "XX-UNLISTED", dryer: bool = False) -> Equipment:
    return Equipment(
        equipment_id="EQ-1",
        model_code=model_code,
        brand="Brand",
        model="Model",
        compressor_type=compressor_type,
        serial_number="SN-1",
        purchase_date=date(2022, 1, 1),
        dryer_fitted=dryer,
    )


@pytest.mark.parametrize("compressor_type", list(CompressorType))
def test_every_compressor_type_has_a_generic_template_with_the_core_indicators(compressor_type):
    template = TEMPLATES.for_equipment(unit(compressor_type))
    assert template.generic and template.compressor_type == compressor_type
    codes = {i.code for i in template.indicators}
    assert {
        "discharge_pressure",
        "discharge_temperature",
        "vibration",
        "noise",
        "leaks_found",
        "motor_current",
    } <= codes
    assert "pressure_dew_point" in codes
    for indicator in template.indicators:
        assert indicator.method and indicator.corrective_action


def test_oil_injected_units_check_oil_carry_over_and_oil_free_units_check_class_0():
    assert "oil_carry_over" in {
        i.code for i in TEMPLATES.for_equipment(unit(CompressorType.OIL_INJECTED_SCREW)).indicators
    }
    for oil_free in (CompressorType.OIL_FREE_SCREW, CompressorType.SCROLL, CompressorType.CENTRIFUGAL):
        indicators = {i.code: i for i in TEMPLATES.for_equipment(unit(oil_free)).indicators}
        assert "oil_carry_over" not in indicators
        assert indicators["oil_content"].max_limit == 0.01


def test_a_model_with_its_own_template_gets_it_other_models_get_their_types_template():
    assert TEMPLATES.for_equipment(unit(CompressorType.OIL_INJECTED_SCREW, "AC-GA37VSD")).template_id == "QT-OIS-VSD"
    assert TEMPLATES.for_equipment(unit(CompressorType.OIL_INJECTED_SCREW, "KA-SM15")).template_id == "QT-OIS-STD"
    # A model code listed for another technology does not pull in the wrong checklist.
    assert TEMPLATES.for_equipment(unit(CompressorType.PISTON, "AC-GA37VSD")).template_id == "QT-PISTON-STD"


def test_the_dew_point_is_checked_only_where_a_dryer_is_fitted():
    template = TEMPLATES.by_id["QT-OIS-VSD"]
    with_dryer = {i.code for i in template.checklist(unit(CompressorType.OIL_INJECTED_SCREW, dryer=True))}
    without = {i.code for i in template.checklist(unit(CompressorType.OIL_INJECTED_SCREW, dryer=False))}
    assert with_dryer - without == {"pressure_dew_point"}


def test_the_model_template_carries_the_rated_motor_current_in_amperes():
    current = {i.code: i for i in TEMPLATES.by_id["QT-OIS-VSD"].indicators}["motor_current"]
    assert (current.unit, current.max_limit) == ("A", 71)


def test_a_catalogue_without_a_type_or_with_duplicates_is_refused():
    shipped = TEMPLATES.all()
    with pytest.raises(ValueError, match="no generic template for: piston"):
        TemplateCatalogue([t for t in shipped if t.template_id != "QT-PISTON-STD"])
    with pytest.raises(ValueError, match="appears twice"):
        TemplateCatalogue([*shipped, shipped[0]])


def test_a_template_with_an_indicator_without_limits_or_twice_is_refused():
    raw = TEMPLATES.by_id["QT-SCROLL-STD"].model_dump()
    no_limit = {**raw, "indicators": [{**raw["indicators"][0], "min_limit": None, "max_limit": None}]}
    with pytest.raises(ValueError, match="needs min_limit"):
        InspectionTemplate.model_validate(no_limit)
    with pytest.raises(ValueError, match="twice"):
        InspectionTemplate.model_validate({**raw, "indicators": raw["indicators"] * 2})
