"""HTTP API of the equipment catalogue."""

from __future__ import annotations

from litestar import get
from litestar.params import FromPath, FromQuery

from compressor_contracts import CompressorType
from compressor_kit.auth import requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.refusals import Refusal
from intake_service.actors import ALL_PEOPLE
from intake_service.catalogue.domain import EquipmentModel
from intake_service.catalogue.store import CATALOGUE

TAGS = ["Equipment catalogue"]


@get(
    "/catalogue/models",
    **requires(*ALL_PEOPLE),
    operation_id="listEquipmentModels",
    tags=TAGS,
    sync_to_thread=False,
)
def list_models(
    brand: FromQuery[str | None] = None,
    compressor_type: FromQuery[CompressorType | None] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[EquipmentModel]:
    """Compressor models of the equipment catalogue, by brand, filterable by brand and type."""
    models = CATALOGUE.search(brand=brand, compressor_type=compressor_type)
    return Page(items=models[offset : offset + limit], total=len(models), limit=limit, offset=offset)


@get(
    "/catalogue/models/{model_code:str}",
    **requires(*ALL_PEOPLE),
    operation_id="getEquipmentModel",
    tags=TAGS,
    sync_to_thread=False,
)
def get_model(model_code: FromPath[str]) -> EquipmentModel:
    model = CATALOGUE.get(model_code)
    if model is None:
        raise Refusal.not_found(f"no equipment model {model_code!r} in the catalogue", field="model_code")
    return model


ROUTES = [list_models, get_model]
