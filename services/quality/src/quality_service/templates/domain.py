"""Inspection templates as the manufacturer's test sheets state them: pure rules, no I/O.

A template lists the performance indicators a service engineer checks after a repair, each with
its unit and acceptable limits. A model-specific template (listing the model's catalogue code)
wins over the generic template of the compressor type; every type has exactly one generic
template, so every unit can be inspected.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from compressor_contracts.common import CompressorType, Equipment, Identifier, ShortText, Text, Unit

# Spellings an inspector may type for a template's unit (keys compared case-insensitively).
UNIT_ALIASES = {
    "degc": "°C",
    "deg c": "°C",
    "c": "°C",
    "celsius": "°C",
    "mg/m3": "mg/m³",
    "um": "µm",
    "μm": "µm",  # Greek mu (U+03BC) for the micro sign (U+00B5)
    "dba": "dB(A)",
    "db(a)": "dB(A)",
}


def canonical_unit(unit: str) -> str:
    """The unit as templates spell it: 'degC' -> '°C', 'mg/m3' -> 'mg/m³'."""
    stripped = unit.strip()
    return UNIT_ALIASES.get(stripped.casefold(), stripped)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


INDICATOR_EXAMPLE: dict[str, Any] = {
    "code": "discharge_temperature",
    "name": "Element outlet temperature, full load",
    "name_ms": "Suhu keluaran elemen, beban penuh",
    "unit": "°C",
    "min_limit": 70,
    "max_limit": 100,
    "method": "Read the element outlet temperature on the controller after 30 min at full load.",
    "corrective_action": "Check the thermostatic valve, the oil level and grade and the oil filter; clean the cooler.",
    "corrective_action_ms": "Periksa injap termostatik, paras dan gred minyak, penapis minyak; bersihkan penyejuk.",
    "only_with_dryer": False,
}


class IndicatorSpec(_Model):
    """One performance indicator of a template: what to measure, how, and what is acceptable."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [INDICATOR_EXAMPLE]})

    code: Identifier = Field(description="Indicator code, unique in the template, e.g. 'discharge_pressure'.")
    name: ShortText = Field(description="What is measured, as the test sheet says it.")
    name_ms: ShortText | None = Field(default=None, description="The name in Bahasa Melayu, for the customer.")
    unit: Unit = Field(description="Unit the value is recorded in.")
    min_limit: float | None = Field(default=None, description="Lowest acceptable value (inclusive); null: none.")
    max_limit: float | None = Field(default=None, description="Highest acceptable value (inclusive); null: none.")
    method: Text = Field(description="How to measure it.")
    corrective_action: Text = Field(description="What to check and correct when the value is outside its limits.")
    corrective_action_ms: Text | None = Field(
        default=None, description="The corrective action in Bahasa Melayu, for the customer."
    )
    only_with_dryer: bool = Field(
        default=False, description="Checked only on units with an integrated dryer (pressure dew point)."
    )

    @model_validator(mode="after")
    def _limits(self) -> Self:
        if self.min_limit is None and self.max_limit is None:
            raise ValueError(f"indicator {self.code!r} needs min_limit, max_limit or both")
        if self.min_limit is not None and self.max_limit is not None and self.min_limit > self.max_limit:
            raise ValueError(f"indicator {self.code!r}: min_limit exceeds max_limit")
        if canonical_unit(self.unit) != self.unit:
            raise ValueError(f"indicator {self.code!r}: write the unit as {canonical_unit(self.unit)!r}")
        return self


class InspectionTemplate(_Model):
    """A manufacturer's test sheet: the indicators checked after a repair, for a compressor type or models."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "template_id": "QT-OIS-VSD",
                    "title": "Atlas Copco GA 37 VSD+ oil-injected screw, 37 kW, set point 7.0 bar",
                    "compressor_type": "oil_injected_screw",
                    "model_codes": ["AC-GA37VSD"],
                    "standards": ["Atlas Copco GA VSD+ instruction book, test after service", "ISO 1217:2009 Annex E"],
                    "indicators": [INDICATOR_EXAMPLE],
                }
            ]
        },
    )

    template_id: Identifier = Field(description="Template id, e.g. 'QT-OIS-VSD'.")
    title: ShortText = Field(description="What the template covers.")
    compressor_type: CompressorType = Field(description="Compressor technology the template is for.")
    model_codes: list[Identifier] = Field(
        default=[], description="Catalogue model codes it is written for; empty for the type's generic template."
    )
    standards: list[ShortText] = Field(default=[], description="Standards the limits come from.")
    indicators: list[IndicatorSpec] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _unique_codes(self) -> Self:
        codes = [i.code for i in self.indicators]
        if len(codes) != len(set(codes)):
            raise ValueError(f"template {self.template_id!r} lists an indicator twice")
        return self

    @property
    def generic(self) -> bool:
        return not self.model_codes

    def checklist(self, equipment: Equipment) -> list[IndicatorSpec]:
        """The indicators that apply to this unit (the dew point only where a dryer is fitted)."""
        return [i for i in self.indicators if equipment.dryer_fitted or not i.only_with_dryer]


class TemplateCatalogue:
    """Every template, checked as a whole: unique ids, one model per template, one generic per type."""

    def __init__(self, templates: list[InspectionTemplate]) -> None:
        self.by_id: dict[str, InspectionTemplate] = {}
        self.by_model: dict[str, InspectionTemplate] = {}
        self.generic: dict[CompressorType, InspectionTemplate] = {}
        for template in templates:
            if template.template_id in self.by_id:
                raise ValueError(f"template id {template.template_id!r} appears twice")
            self.by_id[template.template_id] = template
            for code in template.model_codes:
                if code in self.by_model:
                    raise ValueError(f"model {code!r} has two templates")
                self.by_model[code] = template
            if template.generic:
                if template.compressor_type in self.generic:
                    raise ValueError(f"{template.compressor_type} has two generic templates")
                self.generic[template.compressor_type] = template
        missing = set(CompressorType) - set(self.generic)
        if missing:
            raise ValueError(f"no generic template for: {', '.join(sorted(missing))}")

    def for_equipment(self, equipment: Equipment) -> InspectionTemplate:
        """The model's own template when there is one, else its type's generic template."""
        template = self.by_model.get(equipment.model_code)
        if template is not None and template.compressor_type == equipment.compressor_type:
            return template
        return self.generic[equipment.compressor_type]

    def all(self) -> list[InspectionTemplate]:
        return sorted(self.by_id.values(), key=lambda t: t.template_id)
