"""Review and close rules, pure."""

from __future__ import annotations

from compressor_contracts.common import StaffMember, StaffRole
from compressor_contracts.events.feedback import FollowUp, JobClosed, SurveyStatus
from compressor_kit.refusals import Refusal
from feedback_service.jobs.domain import Job, ReviewMemo

CLOSING_SURVEY_STATES = (SurveyStatus.ANSWERED, SurveyStatus.EXPIRED)


def review(job: Job, reviewer: StaffMember, memo: str, lessons: list[str], follow_ups: list[FollowUp]) -> ReviewMemo:
    """The job's review memo, once its report is out: an engineer may review only a job they did, a
    manager any job."""
    if job.cancelled:
        raise Refusal.conflict(f"job {job.job_id} was cancelled")
    if job.record is None:
        raise Refusal.conflict(f"job {job.job_id} has no published report yet; review it after the report")
    if job.reviewed_at is not None:
        raise Refusal.conflict(f"job {job.job_id} is already reviewed")
    engineer_id = job.record.outcome.engineer.engineer_id
    if reviewer.role is StaffRole.ENGINEER and reviewer.user_id != engineer_id:
        raise Refusal.forbidden(f"only the job's engineer ({engineer_id}) or a manager may review job {job.job_id}")
    return ReviewMemo(reviewer=reviewer, memo=memo, lessons=lessons, follow_ups=follow_ups)


def ready_to_close(job: Job) -> bool:
    """Reviewed, and the survey answered or expired; not yet closed, not cancelled."""
    return (
        job.closed_at is None
        and not job.cancelled
        and job.reviewed_at is not None
        and job.survey_status in CLOSING_SURVEY_STATES
        and job.record is not None
    )


def closing_event(job: Job) -> JobClosed:
    if job.record is None or job.survey_status not in CLOSING_SURVEY_STATES:
        raise ValueError(f"job {job.job_id} is not ready to close")
    answered = job.survey_status == SurveyStatus.ANSWERED
    return JobClosed(
        job_id=job.job_id,
        outcome=job.record.outcome,
        record_id=job.record.record_id,
        record_version=job.record.record_version,
        report=job.record.report,
        survey_status=SurveyStatus(job.survey_status),
        csat=job.csat if answered else None,
        nps=job.nps if answered else None,
        follow_ups=job.review.follow_ups if job.review else [],
    )
