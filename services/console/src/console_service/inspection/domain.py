"""The inspection form's rules, pure: limits as the inspector reads them, the readings sent to quality,
and quality's refusals placed beside the field of the indicator they name.

A reading's field is `measurements.<index>.value`, in checklist order, and the readings go to quality in
that same order, so quality's `measurements.<index>.value|unit|code` names the right field; its
`measurements.<code>` (an indicator not measured) is placed by code. The pass or fail shown while
typing uses the same inclusive limits as quality; quality's verdict is the one recorded.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from console_service.texts import _

NOTES_MAX = 2000  # InspectionResultsIn.notes: Text, 1-2000 characters
_INDEXED = re.compile(r"^measurements\.(\d+)\.(value|unit|code)$")


def value_field(index: int) -> str:
    return f"measurements.{index}.value"


def unit_field(index: int) -> str:
    return f"measurements.{index}.unit"


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def limit_text(indicator: dict[str, Any]) -> str:
    """'70-100 °C', 'max 100 °C' or 'min 4 bar': the limits are inclusive."""
    low, high, unit = _number(indicator.get("min_limit")), _number(indicator.get("max_limit")), indicator["unit"]
    if low is not None and high is not None:
        return _("%(low)s to %(high)s %(unit)s", low=format(low, "g"), high=format(high, "g"), unit=unit)
    if high is not None:
        return _("max %(high)s %(unit)s", high=format(high, "g"), unit=unit)
    if low is not None:
        return _("min %(low)s %(unit)s", low=format(low, "g"), unit=unit)
    return _("no limit (%(unit)s)", unit=unit)


def within_limits(indicator: dict[str, Any], value: float) -> bool:
    """As quality judges it: a value exactly at its limit meets it."""
    low, high = _number(indicator.get("min_limit")), _number(indicator.get("max_limit"))
    if low is not None and value < low:
        return False
    return high is None or value <= high


def parse_reading(raw: str) -> float | None:
    """A typed reading as a finite number (a decimal comma accepted), or None."""
    text = raw.strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Readings:
    """The body for POST /inspections/{id}/results, or the fields refused before asking quality."""

    body: dict[str, Any]
    errors: dict[str, str]


def readings(indicators: list[dict[str, Any]], form: dict[str, str]) -> Readings:
    """Every indicator's reading from the form, in checklist order; none may be missing (as quality)."""
    measurements: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for index, indicator in enumerate(indicators):
        raw = form.get(value_field(index), "")
        value = parse_reading(raw)
        if value is None:
            errors[value_field(index)] = (
                _("%(name)s was not measured", name=indicator["name"])
                if not raw.strip()
                else _("type the value read, as a number")
            )
            continue
        unit = form.get(unit_field(index)) or indicator["unit"]
        measurements.append({"code": indicator["code"], "value": value, "unit": unit})
    body: dict[str, Any] = {"measurements": measurements}
    notes = form.get("notes", "").strip()
    if len(notes) > NOTES_MAX:
        errors["notes"] = _("at most %(count)d characters", count=NOTES_MAX)
    elif notes:
        body["notes"] = notes
    return Readings(body, errors)


def field_errors(indicators: list[dict[str, Any]], errors: dict[str, str]) -> dict[str, str]:
    """Quality's refused fields as the form's: each beside the reading of the indicator it names."""
    index_of = {indicator["code"]: index for index, indicator in enumerate(indicators)}
    placed: dict[str, str] = {}
    for name, message in errors.items():
        indexed = _INDEXED.match(name)
        if indexed:
            target = value_field(int(indexed.group(1)))
        elif name.startswith("measurements.") and name.removeprefix("measurements.") in index_of:
            target = value_field(index_of[name.removeprefix("measurements.")])
        else:
            target = name
        placed.setdefault(target, message)
    return placed


def reading_for(indicator: dict[str, Any], fail: bool) -> float:
    """A reading inside the indicator's limits, or just over its maximum when it should fail (as
    demo/flow.py's `_reading`, for the steps that fill the form as a person would)."""
    low, high = _number(indicator.get("min_limit")), _number(indicator.get("max_limit"))
    if fail and high is not None:
        return round(high + max(abs(high) * 0.1, 1.0), 2)
    if low is not None and high is not None:
        return round((low + high) / 2, 3)
    if high is not None:
        return round(high * 0.8, 3)
    return round(low * 1.05 if low else 0, 3)
