"""One pagination shape for every list endpoint: `?limit=&offset=` in, `Page` out."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from litestar.params import Parameter
from pydantic import BaseModel, Field

T = TypeVar("T")

MAX_LIMIT = 200

Limit = Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description=f"Items per page (1-{MAX_LIMIT}).")]
Offset = Annotated[int, Parameter(ge=0, le=1_000_000, description="Items to skip.")]


class Page(BaseModel, Generic[T]):
    """One page of a list: the items, how many there are in all, and where this page starts."""

    items: list[T]
    total: int = Field(ge=0, description="Items in the whole list.")
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)

    @property
    def next_offset(self) -> int | None:
        following = self.offset + len(self.items)
        return following if following < self.total else None
