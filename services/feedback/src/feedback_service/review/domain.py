"""Review and close rules, pure."""

from __future__ import annotations

from typing import Any

from compressor_contracts.common import ServiceOutcome, StoredObject
from compressor_contracts.events.feedback import FollowUp, JobClosed, SurveyStatus

CLOSING_SURVEY_STATES = (SurveyStatus.ANSWERED.value, SurveyStatus.EXPIRED.value)


def ready_to_close(job: dict[str, Any]) -> bool:
    """Reviewed, and the survey answered or expired; not yet closed, not cancelled."""
    return (
        job.get("closed_at") is None
        and not job.get("cancelled")
        and job.get("reviewed_at") is not None
        and job.get("survey_status") in CLOSING_SURVEY_STATES
        and job.get("record") is not None
    )


def closing_event(job: dict[str, Any]) -> JobClosed:
    record = job["record"]
    answered = job["survey_status"] == SurveyStatus.ANSWERED.value
    return JobClosed(
        job_id=job["_id"],
        outcome=ServiceOutcome.model_validate(record["outcome"]),
        record_id=record["record_id"],
        record_version=record["record_version"],
        report=StoredObject.model_validate(record["report"]),
        survey_status=SurveyStatus(job["survey_status"]),
        csat=job.get("csat") if answered else None,
        nps=job.get("nps") if answered else None,
        follow_ups=[FollowUp.model_validate(f) for f in (job.get("review") or {}).get("follow_ups", [])],
    )
