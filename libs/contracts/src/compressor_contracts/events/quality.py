"""Events published by quality: inspection and test after each work round (phase 6)."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, model_validator

from compressor_contracts.common import Identifier, IndicatorResult, Round, StaffMember, Text
from compressor_contracts.envelope import JobEventData


class JobInspectionPassed(JobEventData):
    """Every indicator is within its limit: the equipment meets the quality requirements."""

    name: ClassVar[str] = "job.inspection_passed"
    producer: ClassVar[str] = "quality"
    phase: ClassVar[int | None] = 6

    round: Round = Field(description="The work round inspected.")
    inspector: StaffMember = Field(description="Who inspected.")
    template_id: Identifier = Field(description="Inspection template used.")
    indicators: list[IndicatorResult] = Field(
        min_length=1, max_length=100, description="Every indicator with its value and limits; all passed."
    )

    @model_validator(mode="after")
    def _all_passed(self) -> Self:
        if not all(i.passed for i in self.indicators):
            raise ValueError("every indicator of a passed inspection must have passed")
        return self


class JobInspectionFailed(JobEventData):
    """At least one indicator is outside its limit: the job goes back to execution for another round."""

    name: ClassVar[str] = "job.inspection_failed"
    producer: ClassVar[str] = "quality"
    phase: ClassVar[int | None] = 6

    round: Round = Field(description="The work round inspected.")
    inspector: StaffMember = Field(description="Who inspected.")
    template_id: Identifier = Field(description="Inspection template used.")
    failed_indicators: list[IndicatorResult] = Field(
        min_length=1, max_length=100, description="Indicators outside their limits: the rework to do."
    )
    passed_indicators: list[IndicatorResult] = Field(
        default=[], max_length=100, description="The other indicators, all within limits."
    )

    @model_validator(mode="after")
    def _split(self) -> Self:
        if any(i.passed for i in self.failed_indicators):
            raise ValueError("failed_indicators must all have passed=false")
        if not all(i.passed for i in self.passed_indicators):
            raise ValueError("passed_indicators must all have passed=true")
        return self


class JobInspectionEscalated(JobEventData):
    """The inspection failed the configured number of rounds in a row; management is alerted."""

    name: ClassVar[str] = "job.inspection_escalated"
    producer: ClassVar[str] = "quality"
    phase: ClassVar[int | None] = 6

    failed_rounds: Round = Field(description="Failed inspection rounds so far.")
    threshold: Round = Field(description="The configured number of failed rounds that triggers escalation.")
    last_failed_indicators: list[IndicatorResult] = Field(
        min_length=1, max_length=100, description="Failed indicators of the latest round."
    )
    detail: Text = Field(description="Human-readable summary for management.")
