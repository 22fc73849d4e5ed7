"""Field errors collected by the domain rules, turned into one 422 problem+json naming every field."""

from __future__ import annotations

from dataclasses import dataclass

from compressor_kit.problems import Problem


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


def refuse_if_any(errors: list[FieldError]) -> None:
    """Raise a 422 problem listing every error (the first one in the detail); nothing was written."""
    if errors:
        raise Problem(
            422,
            f"{errors[0].field}: {errors[0].message}",
            errors=[{"field": e.field, "message": e.message} for e in errors],
        )
