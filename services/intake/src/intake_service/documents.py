"""Domain objects as MongoDB documents and back, the same way in every store of intake.

A model's id field is the document's `_id`. Dates are kept as ISO strings (`YYYY-MM-DD`): BSON has
no date without a time, and ISO strings sort and compare as text. Times stay BSON dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

Document = dict[str, Any]


def bson_value(value: object) -> object:
    """`value` as BSON can hold it: dates as ISO strings, enumerations as their values."""
    if isinstance(value, Mapping):
        return {key: bson_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [bson_value(item) for item in value]
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def to_document(model: BaseModel, id_field: str, **internal: object) -> Document:
    """The document of `model`, with the fields only queries and indexes need (`internal`)."""
    fields = model.model_dump()
    return {"_id": fields.pop(id_field), **{k: bson_value(v) for k, v in {**fields, **internal}.items()}}


def from_document(model: type[M], doc: Mapping[str, Any], id_field: str) -> M:
    """The model stored as `doc` (fields the model does not name are the store's own, and left out)."""
    fields = {k: v for k, v in doc.items() if k != "_id"}
    return model.model_validate({id_field: doc["_id"], **fields})
