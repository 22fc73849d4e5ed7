"""Survey flows: opening the survey when the report is published, answering it, issuing a new link
and expiring it. Each decides with the survey rules and stores and publishes in one transaction."""

from __future__ import annotations

from datetime import timedelta

from compressor_contracts import CloudEvent
from compressor_contracts.events.feedback import JobFeedbackReceived, SurveyAnswerSource
from compressor_contracts.events.reporting import JobReportPublished
from compressor_kit.outbox import UnitOfWork
from compressor_kit.refusals import Refusal
from feedback_service.jobs import store as jobs
from feedback_service.jobs.domain import Job, JobRecord
from feedback_service.notifications.domain import NOTICES
from feedback_service.notifications.store import enqueue
from feedback_service.review.commands import close_if_ready
from feedback_service.settings import FeedbackRuntime
from feedback_service.surveys import store as surveys
from feedback_service.surveys.domain import (
    Survey,
    SurveyAnswer,
    check_answerable,
    check_customers_job,
    check_link_issuable,
    is_low_score,
    parse_answer,
)

BATCH = 200  # surveys expired per round of the periodic job


async def open_survey(
    runtime: FeedbackRuntime, uow: UnitOfWork, job: Job, event: CloudEvent[JobReportPublished]
) -> None:
    """The report is published: keep the latest record, and the first time open the survey and send
    the report link with it."""
    if job.cancelled or job.closed_at:
        return
    data = event.data
    record = JobRecord(
        record_id=data.record_id, record_version=data.record_version, report=data.report, outcome=data.outcome
    )
    await jobs.keep_record(uow, job, record)
    if job.survey_id:
        return  # a corrected record: the survey already went out with the first version
    now = runtime.clock.now()
    survey = await surveys.open_survey(uow, job.job_id, record, now, timedelta(hours=runtime.settings.survey_ttl_hours))
    await jobs.survey_opened(uow, job.job_id, survey.survey_id)
    await enqueue(
        uow,
        job=job,
        event=event,
        notice=NOTICES[JobReportPublished],
        now=now,
        management_recipients=runtime.settings.management_recipients(),
        survey_id=survey.survey_id,
    )


async def answer_survey(
    runtime: FeedbackRuntime,
    token: str,
    csat: object,
    nps: object,
    comments: object,
    via: SurveyAnswerSource,
) -> tuple[Survey, SurveyAnswer]:
    """Record the survey's one answer through its link (the token): job.feedback_received; a low score
    alerts management and makes the review urgent; the job closes if it was reviewed. Refused: no such
    survey, answered, expired, or a score out of range (named)."""

    async def work(uow: UnitOfWork) -> tuple[Survey, SurveyAnswer]:
        survey = await surveys.find_by_token(uow, token)
        if survey is None:
            raise Refusal.not_found("no survey has this link; check the address in your message")
        return await _answer(runtime, uow, survey, csat, nps, comments, via)

    return await runtime.outbox.transact(work)


async def answer_customers_survey(
    runtime: FeedbackRuntime, job_id: str, customer_id: str, csat: object, nps: object, comments: object
) -> tuple[Survey, SurveyAnswer]:
    """The same answer from the customer portal, by a signed-in customer for their own job: another
    customer's job is refused as not found."""

    async def work(uow: UnitOfWork) -> tuple[Survey, SurveyAnswer]:
        job = await jobs.find_job(uow, job_id)
        check_customers_job(job.customer.customer_id if job else None, customer_id, job_id)
        survey = await surveys.find_of_job(uow, job_id)
        if survey is None:
            raise Refusal.not_found(f"job {job_id} has no survey", field="job_id")
        return await _answer(runtime, uow, survey, csat, nps, comments, SurveyAnswerSource.PORTAL)

    return await runtime.outbox.transact(work)


async def _answer(
    runtime: FeedbackRuntime,
    uow: UnitOfWork,
    survey: Survey,
    csat: object,
    nps: object,
    comments: object,
    via: SurveyAnswerSource,
) -> tuple[Survey, SurveyAnswer]:
    settings = runtime.settings
    now = runtime.clock.now()
    check_answerable(survey.status, survey.expires_at, now)
    parsed = parse_answer(csat, nps, comments)
    low = is_low_score(parsed, settings.survey_low_csat, settings.survey_low_nps)
    answer = SurveyAnswer(
        csat=parsed.csat,
        nps=parsed.nps,
        comments=parsed.comments,
        answered_via=via,
        answered_at=now,
        low_score=low,
    )
    if not await surveys.save_answer(uow, survey.survey_id, answer):
        raise Refusal.conflict("this survey has already been answered; thank you")
    job = await jobs.survey_answered(uow, survey.job_id, answer.csat, answer.nps, low)
    received = await uow.publish(
        JobFeedbackReceived(
            job_id=survey.job_id,
            survey_id=survey.survey_id,
            csat=answer.csat,
            nps=answer.nps,
            comments=answer.comments,
            answered_via=via,
            low_score=low,
        ),
        correlation_id=job.correlation_id,
    )
    if low:
        await enqueue(
            uow,
            job=job,
            event=received,
            notice=NOTICES[JobFeedbackReceived],
            now=now,
            management_recipients=settings.management_recipients(),
        )
    await close_if_ready(uow, survey.job_id, now)
    return survey, answer


async def issue_link(runtime: FeedbackRuntime, job_id: str) -> tuple[Survey, str]:
    """A new link to the job's open survey (earlier links keep working): the survey and the token,
    shown once."""
    survey = await surveys.survey_of_job(runtime, job_id)
    if survey is None:
        raise Refusal.not_found(f"job {job_id} has no survey (its report is not published yet)", field="job_id")
    check_link_issuable(survey, runtime.clock.now())
    token = await surveys.add_token(runtime, survey.survey_id)
    if token is None:
        raise Refusal.conflict("no new link: the survey is closed")
    return survey, token


async def expire_due_surveys(runtime: FeedbackRuntime) -> int:
    """The periodic job: expire unanswered surveys past their time (which may close their jobs)."""
    now = runtime.clock.now()

    expired = 0
    for survey_id in await surveys.due_for_expiry(runtime, now, BATCH):

        async def expire(uow: UnitOfWork, survey_id: str = survey_id) -> bool:
            survey = await surveys.expire(uow, survey_id, now)
            if survey is None:
                return False  # answered or expired meanwhile (another replica)
            await jobs.survey_expired(uow, survey.job_id)
            await close_if_ready(uow, survey.job_id, now)
            return True

        # One transaction per survey; the conditional update makes concurrent replicas harmless.
        if await runtime.outbox.transact(expire):
            expired += 1
    return expired
