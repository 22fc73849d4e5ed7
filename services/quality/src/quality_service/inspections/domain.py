"""The inspection rules: which readings are acceptable input, how each indicator is judged against its
limits, and when repeated failures go to management. Pure Python, no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from compressor_contracts.common import IndicatorResult
from quality_service.templates.domain import IndicatorSpec, canonical_unit

DETAIL_MAX_CHARS = 2000  # the contract's Text limit


class InspectionStatus(StrEnum):
    OPEN = "open"
    PASSED = "passed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    """The job was cancelled while the inspection was open."""


@dataclass(frozen=True)
class Reading:
    """One value the inspector read, as sent."""

    code: str
    value: float
    unit: str


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ReadingsRefused(Exception):
    """The readings cannot be evaluated; every problem names its field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


class InspectionNotFound(Exception):
    pass


class InspectionClosed(Exception):
    """The inspection was already decided (or its job cancelled): results cannot be recorded again."""

    def __init__(self, inspection_id: str, status: str) -> None:
        self.status = status
        super().__init__(f"inspection {inspection_id} is already {status}")


@dataclass(frozen=True)
class Verdict:
    """Every indicator of the checklist with its value, limits and outcome, in checklist order."""

    results: list[IndicatorResult]

    @property
    def failed(self) -> list[IndicatorResult]:
        return [r for r in self.results if not r.passed]

    @property
    def passed(self) -> list[IndicatorResult]:
        return [r for r in self.results if r.passed]

    @property
    def all_passed(self) -> bool:
        return not self.failed


def within_limits(spec: IndicatorSpec, value: float) -> bool:
    """Limits are inclusive: a value exactly at its limit meets it."""
    if spec.min_limit is not None and value < spec.min_limit:
        return False
    return spec.max_limit is None or value <= spec.max_limit


def evaluate_indicator(spec: IndicatorSpec, value: float) -> IndicatorResult:
    passed = within_limits(spec, value)
    return IndicatorResult(
        code=spec.code,
        name=spec.name,
        value=value,
        unit=spec.unit,
        min_limit=spec.min_limit,
        max_limit=spec.max_limit,
        passed=passed,
        corrective_action=None if passed else spec.corrective_action,
    )


def check_readings(checklist: Sequence[IndicatorSpec], readings: Sequence[Reading]) -> dict[str, float]:
    """The value per indicator code, or ReadingsRefused naming every unknown, repeated, mis-united
    or missing indicator. A missing indicator is an error, never a pass."""
    specs = {spec.code: spec for spec in checklist}
    values: dict[str, float] = {}
    errors: list[FieldError] = []
    for index, reading in enumerate(readings):
        where = f"measurements.{index}"
        spec = specs.get(reading.code)
        if spec is None:
            errors.append(
                FieldError(
                    f"{where}.code",
                    f"{reading.code!r} is not an indicator of this inspection; expected: {', '.join(specs)}",
                )
            )
            continue
        if reading.code in values:
            errors.append(FieldError(f"{where}.code", f"{reading.code!r} is recorded twice"))
            continue
        if canonical_unit(reading.unit) != spec.unit:
            errors.append(
                FieldError(f"{where}.unit", f"{spec.name} is recorded in {spec.unit!r}, not {reading.unit!r}")
            )
        if not math.isfinite(reading.value):
            errors.append(FieldError(f"{where}.value", "must be a finite number"))
        values[reading.code] = reading.value
    for code, spec in specs.items():
        if code not in values:
            errors.append(FieldError(f"measurements.{code}", f"{spec.name} ({code}) was not measured"))
    if errors:
        raise ReadingsRefused(errors)
    return values


def evaluate(checklist: Sequence[IndicatorSpec], readings: Sequence[Reading]) -> Verdict:
    """Judge every indicator of the checklist; refuses incomplete or unknown readings."""
    values = check_readings(checklist, readings)
    return Verdict([evaluate_indicator(spec, values[spec.code]) for spec in checklist])


def escalation_due(failed_rounds: int, threshold: int) -> bool:
    """Management hears of a job once its inspection has failed `threshold` rounds, and again on every
    further failed round until it passes."""
    return failed_rounds >= threshold


def describe_limit(result: IndicatorResult) -> str:
    unit = result.unit
    if result.min_limit is not None and result.max_limit is not None:
        return f"{result.min_limit:g}-{result.max_limit:g} {unit}"
    if result.max_limit is not None:
        return f"max {result.max_limit:g} {unit}"
    return f"min {result.min_limit:g} {unit}"


def escalation_detail(job_id: str, failed_rounds: int, equipment_label: str, failed: Sequence[IndicatorResult]) -> str:
    items = "; ".join(f"{r.name}: {r.value:g} {r.unit} (limit {describe_limit(r)})" for r in failed)
    detail = f"Job {job_id} ({equipment_label}) failed its quality inspection {failed_rounds} rounds. "
    detail += f"Still failing: {items}"
    return detail if len(detail) <= DETAIL_MAX_CHARS else detail[: DETAIL_MAX_CHARS - 3] + "..."
