"""The equipment catalogue: compressor models and their service intervals (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import CompressorType
from compressor_contracts.common import Identifier


class EquipmentModel(BaseModel):
    """One compressor model as the manufacturer specifies it."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "model_code": "AC-GA37VSD",
                    "brand": "Atlas Copco",
                    "model": "GA 37 VSD+",
                    "compressor_type": "oil_injected_screw",
                    "rated_pressure_bar": 13.0,
                    "power_kw": 37.0,
                    "free_air_delivery_m3_min": 7.0,
                    "service_interval_hours": 4000,
                    "service_interval_months": 6,
                    "warranty_months": 24,
                }
            ]
        },
    )

    model_code: Identifier = Field(description="Catalogue code, e.g. 'AC-GA37VSD'.")
    brand: str = Field(min_length=1, max_length=100, description="Manufacturer brand.")
    model: str = Field(min_length=1, max_length=100, description="Manufacturer model name.")
    compressor_type: CompressorType = Field(description="Compressor technology.")
    rated_pressure_bar: float = Field(gt=0, le=100, description="Maximum working pressure (bar(e)).")
    power_kw: float = Field(gt=0, le=10_000, description="Installed motor power (kW).")
    free_air_delivery_m3_min: float | None = Field(default=None, gt=0, description="FAD at rated pressure.")
    service_interval_hours: int = Field(gt=0, le=100_000, description="Running hours between services.")
    service_interval_months: int = Field(gt=0, le=60, description="Months between services, whatever the hours.")
    warranty_months: int = Field(ge=0, le=120, description="Standard warranty from the purchase date.")


class Catalogue:
    """All known models by code."""

    def __init__(self, models: Iterable[EquipmentModel]) -> None:
        self._by_code: dict[str, EquipmentModel] = {}
        for model in models:
            if model.model_code in self._by_code:
                raise ValueError(f"duplicate model code {model.model_code!r} in the equipment catalogue")
            self._by_code[model.model_code] = model

    def get(self, model_code: str) -> EquipmentModel | None:
        return self._by_code.get(model_code)

    def search(
        self, *, brand: str | None = None, compressor_type: CompressorType | None = None
    ) -> list[EquipmentModel]:
        return [
            m
            for m in sorted(self._by_code.values(), key=lambda m: (m.brand, m.model_code))
            if (brand is None or m.brand.casefold() == brand.casefold())
            and (compressor_type is None or m.compressor_type == compressor_type)
        ]
