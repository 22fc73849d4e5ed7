"""The survey over HTTP: the customer's HTML form and JSON API (authenticated by the survey token
itself), and staff's view and link issuing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, URLEncodedBody
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from compressor_contracts.events.feedback import SurveyAnswerSource
from compressor_kit.auth import Role, public, requires
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from feedback_service.jobs.store import JOBS
from feedback_service.notifications.delivery import report_url, survey_url
from feedback_service.settings import feedback_settings
from feedback_service.surveys.domain import (
    MAX_COMMENTS,
    AnswerError,
    answerable,
    is_low_score,
    parse_answer,
)
from feedback_service.surveys.store import SURVEYS, add_token, find_by_token, record_answer
from feedback_service.templates import render_page

# The survey routes are public(): the customer has no account. Each request is authenticated by
# the survey token in the path - 256 random bits, only its hash stored, valid for one survey
# until it is answered or expires - which is the whole authority it grants (answer that survey).
SURVEY_ROUTE = public()


def _html(description: str) -> ResponseSpec:
    return ResponseSpec(str, description=description, media_type=MediaType.HTML, generate_examples=False)


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(dict, description=description, media_type="application/problem+json", generate_examples=False)


SURVEY_PAGES = {
    404: _html("A page saying no survey has this link."),
    409: _html("A page saying the survey is already answered."),
    410: _html("A page saying the survey has expired."),
}
SURVEY_ANSWER_REFUSALS = {
    404: _problem("No survey has this token."),
    409: _problem("The survey is already answered."),
    410: _problem("The survey has expired."),
    422: _problem("A score out of range or comments too long, the field named."),
}


# Scores are JSON scalars; the survey rules judge them (range, whole number) as they do the form's text.
Score = (
    bool
    | Annotated[int, Field(ge=-(2**31), le=2**31)]
    | float
    | Annotated[str, StringConstraints(max_length=20)]
    | None
)


class SurveyAnswerIn(BaseModel):
    """An answer through the API. Ranges are checked by the survey rules so form and API say the same."""

    model_config = ConfigDict(extra="forbid")

    csat: Score = Field(
        default=None, description="Customer satisfaction, a whole number 1 (very dissatisfied) to 5 (very satisfied)."
    )
    nps: Score = Field(default=None, description="Likelihood to recommend, a whole number 0 to 10.")
    comments: Annotated[str, StringConstraints(max_length=2 * MAX_COMMENTS)] | None = Field(
        default=None, description=f"Free text, at most {MAX_COMMENTS} characters."
    )


class SurveyAnswerOut(BaseModel):
    survey_id: str
    job_id: str
    csat: int
    nps: int
    comments: str | None
    low_score: bool
    answered_at: datetime


class SurveyLinkOut(BaseModel):
    survey_id: str
    job_id: str
    survey_url: str = Field(description="The HTML form; POST JSON to survey_url + '/answer' to answer by API.")
    token: str = Field(description="The new token (shown once; only its hash is kept).")
    expires_at: datetime


class SurveyView(BaseModel):
    survey_id: str
    job_id: str
    status: str
    expires_at: datetime
    sent_at: datetime | None
    links_issued: int
    answer: dict[str, Any] | None


async def _survey_for(runtime: Runtime, token: str) -> dict[str, Any]:
    survey = await find_by_token(runtime.db, token)
    if survey is None:
        raise Problem(404, "no survey has this link; check the address in your message")
    return survey


async def _answer(runtime: Runtime, token: str, raw: dict[str, Any], via: SurveyAnswerSource) -> dict[str, Any]:
    """Validate and record one answer; raises Problem with what to tell the customer."""
    settings = feedback_settings(runtime.settings)
    survey = await _survey_for(runtime, token)
    now = runtime.clock.now()
    refusal = answerable(survey["status"], survey["expires_at"], now)
    if refusal is None:
        parsed = parse_answer(raw.get("csat"), raw.get("nps"), raw.get("comments"))
        refusal = parsed if isinstance(parsed, AnswerError) else None
    if refusal is not None:
        raise Problem(refusal.status, refusal.detail, field=refusal.field)
    low = is_low_score(parsed, settings.survey_low_csat, settings.survey_low_nps)
    recorded = await runtime.outbox.transact(
        lambda uow: record_answer(uow, survey, parsed, via, low, now, settings.management_recipients())
    )
    if not recorded:  # another answer (or the expiry) committed first
        latest = await runtime.db[SURVEYS].find_one({"_id": survey["_id"]})
        refusal = answerable(latest["status"], latest["expires_at"], runtime.clock.now()) or AnswerError(
            409, "this survey has already been answered; thank you"
        )
        raise Problem(refusal.status, refusal.detail)
    return {
        "survey_id": survey["_id"],
        "job_id": survey["job_id"],
        "csat": parsed.csat,
        "nps": parsed.nps,
        "comments": parsed.comments,
        "low_score": low,
        "answered_at": now,
    }


def _page(title: str, message: str, status: int) -> Response:
    return Response(
        render_page("message", {"title": title, "message": message}), status_code=status, media_type=MediaType.HTML
    )


@get(
    "/surveys/{token:str}",
    **SURVEY_ROUTE,
    operation_id="showSurveyForm",
    media_type=MediaType.HTML,
    responses=SURVEY_PAGES,
)
async def show_survey_form(request: Request, token: FromPath[str], runtime: NamedDependency[Runtime]) -> Response:
    """The survey as an HTML form a browser can post back."""
    survey = await find_by_token(runtime.db, token)
    if survey is None:
        return _page("Survey not found", "No survey has this link; check the address in your message.", 404)
    refusal = answerable(survey["status"], survey["expires_at"], runtime.clock.now())
    if refusal is not None:
        return _page("Survey closed", refusal.detail, refusal.status)
    job = await runtime.db[JOBS].find_one({"_id": survey["job_id"]}) or {}
    return Response(await _form(runtime, token, survey, job, error=None), media_type=MediaType.HTML)


async def _form(runtime: Runtime, token: FromPath[str], survey: dict, job: dict, error: str | None) -> str:
    equipment = job.get("equipment") or {}
    outcome = (job.get("record") or {}).get("outcome") or {}
    return render_page(
        "form",
        {
            "job_id": survey["job_id"],
            "equipment": f"{equipment.get('brand', '')} {equipment.get('model', '')}".strip() or "equipment",
            "site": (job.get("site") or {}).get("name", "your site"),
            "engineer": (outcome.get("engineer") or {}).get("name", "our engineer"),
            "report_url": await report_url(runtime, feedback_settings(runtime.settings), survey["report"]),
            "expires_at": survey["expires_at"],
            "action": f"/surveys/{token}",
            "error": error,
        },
    )


@post(
    "/surveys/{token:str}",
    **SURVEY_ROUTE,
    operation_id="answerSurveyForm",
    media_type=MediaType.HTML,
    status_code=200,
    responses={**SURVEY_PAGES, 422: _html("The form again, saying what is wrong.")},
)
async def answer_survey_form(
    token: FromPath[str],
    data: URLEncodedBody[dict[str, str]],
    runtime: NamedDependency[Runtime],
) -> Response:
    """The form posted by the browser: a thank-you page, or the form again with what is wrong."""
    try:
        await _answer(runtime, token, data, SurveyAnswerSource.FORM)
    except Problem as problem:
        if problem.status_code == 422:
            survey = await find_by_token(runtime.db, token)
            job = await runtime.db[JOBS].find_one({"_id": survey["job_id"]}) or {}
            html = await _form(runtime, token, survey, job, error=problem.detail)
            return Response(html, status_code=422, media_type=MediaType.HTML)
        title = {404: "Survey not found", 409: "Already answered", 410: "Survey expired"}.get(
            problem.status_code, "Survey"
        )
        return _page(title, problem.detail, problem.status_code)
    return _page("Thank you", "Your answer has been recorded. Thank you for your feedback.", 200)


@post(
    "/surveys/{token:str}/answer",
    **SURVEY_ROUTE,
    operation_id="answerSurvey",
    status_code=201,
    responses=SURVEY_ANSWER_REFUSALS,
)
async def answer_survey(
    token: FromPath[str], data: JSONBody[SurveyAnswerIn], runtime: NamedDependency[Runtime]
) -> SurveyAnswerOut:
    """Answer the survey through the API (JSON). 409 when already answered, 410 when expired, 422 for a bad score."""
    return SurveyAnswerOut(**await _answer(runtime, token, data.model_dump(), SurveyAnswerSource.API))


@get(
    "/jobs/{job_id:str}/survey",
    **requires(Role.MANAGER, Role.RECEPTION, Role.ENGINEER, Role.ADMIN),
    operation_id="getJobSurvey",
)
async def get_job_survey(job_id: FromPath[str], runtime: NamedDependency[Runtime]) -> SurveyView:
    """The job's survey: state, expiry, answer (never a token)."""
    survey = await runtime.db[SURVEYS].find_one({"job_id": job_id})
    if survey is None:
        raise Problem(404, f"job {job_id} has no survey (its report is not published yet)", field="job_id")
    return SurveyView(
        survey_id=survey["_id"],
        job_id=job_id,
        status=survey["status"],
        expires_at=survey["expires_at"],
        sent_at=survey.get("sent_at"),
        links_issued=len(survey.get("token_hashes", [])),
        answer=survey.get("answer"),
    )


@post(
    "/jobs/{job_id:str}/survey/links",
    **requires(Role.MANAGER, Role.RECEPTION),
    operation_id="issueSurveyLink",
    status_code=201,
)
async def issue_survey_link(job_id: FromPath[str], runtime: NamedDependency[Runtime]) -> SurveyLinkOut:
    """A new link to the job's open survey, for staff to hand to the customer (lost message, phone call).
    Earlier links keep working; the token is shown once, only its hash is kept."""
    survey = await runtime.db[SURVEYS].find_one({"job_id": job_id})
    if survey is None:
        raise Problem(404, f"job {job_id} has no survey (its report is not published yet)", field="job_id")
    refusal = answerable(survey["status"], survey["expires_at"], runtime.clock.now())
    if refusal is not None:
        raise Problem(409, f"no new link: {refusal.detail}")
    token = await add_token(runtime.db, survey["_id"])
    if token is None:
        raise Problem(409, "no new link: the survey is closed")
    return SurveyLinkOut(
        survey_id=survey["_id"],
        job_id=job_id,
        survey_url=survey_url(feedback_settings(runtime.settings), token),
        token=token,
        expires_at=survey["expires_at"],
    )


ROUTES = [show_survey_form, answer_survey_form, answer_survey, get_job_survey, issue_survey_link]
