"""The one way domain code says no.

A `Refusal` names what kind of no it is and which field it concerns; it knows nothing of HTTP.
The kit's one handler (`compressor_kit.problems`) turns it into RFC 9457 problem+json, and the
console shows its fields beside the inputs they name.

    raise Refusal.conflict("the plan is already approved", field="plan_id")
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RefusalKind(StrEnum):
    INVALID = "invalid"  # a value is refused (named); the request as such was well formed
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"  # the caller may not act on this resource
    CONFLICT = "conflict"  # the resource is not in a state that allows this
    GONE = "gone"  # it was there, and no longer can be acted on (an expired survey)


@dataclass(frozen=True)
class FieldIssue:
    """One refused field and why. `field` is a dotted path into the request (`measurements.0.value`)."""

    field: str | None
    message: str


class Refusal(Exception):
    """A decision not to do what was asked; nothing was written."""

    def __init__(
        self,
        kind: RefusalKind,
        detail: str,
        *,
        field: str | None = None,
        issues: Iterable[FieldIssue] = (),
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.issues: tuple[FieldIssue, ...] = tuple(issues) or ((FieldIssue(field, detail),) if field else ())
        self.extra = extra

    @property
    def field(self) -> str | None:
        return self.issues[0].field if self.issues else None

    @classmethod
    def invalid(
        cls, detail: str, *, field: str | None = None, issues: Iterable[FieldIssue] = (), **extra: Any
    ) -> Refusal:
        """A value refused (`field=`), or several at once (`issues=`, one per field)."""
        return cls(RefusalKind.INVALID, detail, field=field, issues=issues, **extra)

    @classmethod
    def not_found(cls, detail: str, *, field: str | None = None, **extra: Any) -> Refusal:
        return cls(RefusalKind.NOT_FOUND, detail, field=field, **extra)

    @classmethod
    def forbidden(cls, detail: str, *, field: str | None = None, **extra: Any) -> Refusal:
        return cls(RefusalKind.FORBIDDEN, detail, field=field, **extra)

    @classmethod
    def conflict(cls, detail: str, *, field: str | None = None, **extra: Any) -> Refusal:
        return cls(RefusalKind.CONFLICT, detail, field=field, **extra)

    @classmethod
    def gone(cls, detail: str, *, field: str | None = None, **extra: Any) -> Refusal:
        return cls(RefusalKind.GONE, detail, field=field, **extra)

    def __repr__(self) -> str:
        return f"Refusal({self.kind.value!r}, {self.detail!r}, issues={self.issues!r})"
