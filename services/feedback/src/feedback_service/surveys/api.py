"""The survey over HTTP: the customer's HTML form and JSON API (authenticated by the survey token
itself), and staff's view and link issuing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import TooManyRequestsException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter, URLEncodedBody
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from compressor_contracts import StaffRole
from compressor_contracts.events.feedback import SurveyAnswerSource, SurveyStatus
from compressor_kit.auth import CUSTOMER, STAFF, principal_of, public, requires
from compressor_kit.i18n import speaking
from compressor_kit.public_pages import per_address, retry_after
from compressor_kit.rate_limits import RateLimit
from compressor_kit.refusals import Refusal, RefusalKind
from feedback_service.jobs import store as jobs
from feedback_service.notifications.delivery import survey_url
from feedback_service.settings import FeedbackRuntime, FeedbackSettings
from feedback_service.surveys import pages
from feedback_service.surveys import store as surveys
from feedback_service.surveys.commands import answer_customers_survey, issue_link
from feedback_service.surveys.commands import answer_survey as record_answer
from feedback_service.surveys.domain import MAX_COMMENTS, Survey, SurveyAnswer, check_answerable, check_customers_job


def _survey_rate(settings: FeedbackSettings) -> RateLimit:
    return RateLimit("survey-requests-per-address", settings.survey_requests_per_address_per_minute, 60)


def _too_many_requests(request: Request[Any, Any, Any], refusal: TooManyRequestsException) -> Response[str]:
    """The 429 of a survey page as a page, in the language the page would have been in."""
    language = pages.page_language(request.query_params.get("lang"), None, request.headers.get("accept-language"))
    with speaking(language):
        return pages.too_many_requests_page(language, retry_after(refusal))


# The survey routes are public(): the customer has no account. Each request is authenticated by
# the survey token in the path - 256 random bits, only its hash stored, valid for one survey
# until it is answered or expires - which is the whole authority it grants (answer that survey).
# Open to anyone, they are limited per address, and every answer carries the pages' security headers.
SURVEY_ROUTE: dict[str, Any] = {
    **public(),
    "guards": [per_address(_survey_rate)],
    "middleware": [pages.SECURITY_HEADERS],
}
# The browser's routes say no with a page (the API's 429 is problem+json).
SURVEY_PAGE: dict[str, Any] = {**SURVEY_ROUTE, "exception_handlers": {TooManyRequestsException: _too_many_requests}}
CUSTOMER_TAGS = ["Survey (customer)"]
STAFF_TAGS = ["Surveys"]
PORTAL_TAGS = ["Survey (customer portal)"]

SURVEY_LINK_EXAMPLE = "q8Vn2xJd0sYcR5bLkW3tE7uA1mZ9hF4gP6oN0iC2vXs"
Token = Annotated[
    str,
    Parameter(description="The survey token from the customer's link.", examples=[Example(value=SURVEY_LINK_EXAMPLE)]),
]
PageLanguage = Annotated[
    str | None,
    QueryParameter(
        max_length=8,
        description="The page's language, ms (Bahasa Melayu) or en (English): the page's language switch. "
        "By default the contact's preferred language.",
        examples=[Example(value="ms")],
    ),
]
ANSWER_EXAMPLE: JsonDict = {
    "csat": 5,
    "nps": 9,
    "comments": "Quick and clear.",
    "answered_via": "api",
    "answered_at": "2026-03-04T16:20:00Z",
    "low_score": False,
}


def _html(description: str) -> ResponseSpec:
    return ResponseSpec(str, description=description, media_type=MediaType.HTML, generate_examples=False)


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(dict, description=description, media_type="application/problem+json", generate_examples=False)


SURVEY_PAGES = {
    404: _html("A page saying no survey has this link."),
    409: _html("A page saying the survey is already answered."),
    410: _html("A page saying the survey has expired."),
    429: _html("A page saying to try again in a minute: too many requests from this address (Retry-After)."),
}
SURVEY_ANSWER_REFUSALS = {
    404: _problem("No survey has this token."),
    409: _problem("The survey is already answered."),
    410: _problem("The survey has expired."),
    422: _problem("A score out of range or comments too long, the field named."),
    429: _problem("Too many requests from this address; Retry-After says when to try again."),
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

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"csat": 5, "nps": 9, "comments": "Quick and clear."}]}
    )

    csat: Score = Field(
        default=None, description="Customer satisfaction, a whole number 1 (very dissatisfied) to 5 (very satisfied)."
    )
    nps: Score = Field(default=None, description="Likelihood to recommend, a whole number 0 to 10.")
    comments: Annotated[str, StringConstraints(max_length=2 * MAX_COMMENTS)] | None = Field(
        default=None, description=f"Free text, at most {MAX_COMMENTS} characters."
    )


class SurveyAnswerOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "survey_id": "SRV-4b1d0c9e2f6a7788",
                    "job_id": "JOB-2026-000042",
                    "csat": 5,
                    "nps": 9,
                    "comments": "Quick and clear.",
                    "low_score": False,
                    "answered_at": "2026-03-04T16:20:00Z",
                }
            ]
        }
    )

    survey_id: str
    job_id: str
    csat: int
    nps: int
    comments: str | None
    low_score: bool
    answered_at: datetime


class SurveyLinkOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "survey_id": "SRV-4b1d0c9e2f6a7788",
                    "job_id": "JOB-2026-000042",
                    "survey_url": f"https://service.compressor.example/surveys/{SURVEY_LINK_EXAMPLE}",
                    "token": SURVEY_LINK_EXAMPLE,
                    "expires_at": "2026-03-18T10:00:00Z",
                }
            ]
        }
    )

    survey_id: str
    job_id: str
    survey_url: str = Field(description="The HTML form; POST JSON to survey_url + '/answer' to answer by API.")
    token: str = Field(description="The new token (shown once; only its hash is kept).")
    expires_at: datetime


class SurveyView(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "survey_id": "SRV-4b1d0c9e2f6a7788",
                    "job_id": "JOB-2026-000042",
                    "status": "answered",
                    "expires_at": "2026-03-18T10:00:00Z",
                    "sent_at": "2026-03-04T10:00:05Z",
                    "links_issued": 1,
                    "answer": ANSWER_EXAMPLE,
                }
            ]
        }
    )

    survey_id: str
    job_id: str
    status: Literal["open"] | SurveyStatus
    expires_at: datetime
    sent_at: datetime | None
    links_issued: int
    answer: SurveyAnswer | None


@get(
    "/surveys/{token:str}",
    **SURVEY_PAGE,
    operation_id="showSurveyForm",
    media_type=MediaType.HTML,
    responses=SURVEY_PAGES,
    tags=CUSTOMER_TAGS,
)
async def show_survey_form(
    request: Request[Any, Any, Any], token: Token, runtime: NamedDependency[FeedbackRuntime], lang: PageLanguage = None
) -> Response[str]:
    """The survey as an HTML form a browser can post back, in the contact's language (`lang` switches)."""
    survey = await surveys.survey_with_token(runtime, token)
    job = await jobs.job_of(runtime, survey.job_id) if survey else None
    language = pages.page_language(lang, job, request.headers.get("accept-language"))
    with speaking(language):
        if survey is None:
            return pages.not_found_page(language, token)
        try:
            check_answerable(survey.status, survey.expires_at, runtime.clock.now())
        except Refusal as refusal:
            return pages.closed_page(refusal, survey, runtime.settings, language, token)
        return pages.form_page(token=token, survey=survey, job=job, settings=runtime.settings, language=language)


@post(
    "/surveys/{token:str}",
    **SURVEY_PAGE,
    operation_id="answerSurveyForm",
    media_type=MediaType.HTML,
    status_code=200,
    responses={**SURVEY_PAGES, 422: _html("The form again, each problem beside its field, what was typed kept.")},
    tags=CUSTOMER_TAGS,
)
async def answer_survey_form(
    request: Request[Any, Any, Any],
    token: Token,
    data: URLEncodedBody[dict[str, str]],
    runtime: NamedDependency[FeedbackRuntime],
    lang: PageLanguage = None,
) -> Response[str]:
    """The form posted by the browser: a thank-you page, or the form again with what is wrong."""
    typed = {name: data.get(name, "") for name in pages.FIELDS}
    try:
        await record_answer(runtime, token, typed["csat"], typed["nps"], typed["comments"], SurveyAnswerSource.FORM)
        refused = None
    except Refusal as refusal:
        refused = refusal
    survey = await surveys.survey_with_token(runtime, token)
    job = await jobs.job_of(runtime, survey.job_id) if survey else None
    language = pages.page_language(lang, job, request.headers.get("accept-language"))
    with speaking(language):
        if refused is None:
            return pages.thank_you_page(language, token)
        if survey is None:
            return pages.not_found_page(language, token)
        if refused.kind is RefusalKind.INVALID:
            return pages.form_page(
                token=token,
                survey=survey,
                job=job,
                settings=runtime.settings,
                language=language,
                typed=typed,
                refusal=refused,
            )
        return pages.closed_page(refused, survey, runtime.settings, language, token)


@post(
    "/surveys/{token:str}/answer",
    **SURVEY_ROUTE,
    operation_id="answerSurvey",
    status_code=201,
    responses=SURVEY_ANSWER_REFUSALS,
    tags=CUSTOMER_TAGS,
)
async def answer_survey(
    token: FromPath[str], data: JSONBody[SurveyAnswerIn], runtime: NamedDependency[FeedbackRuntime]
) -> SurveyAnswerOut:
    """Answer the survey through the API (JSON). 409 when already answered, 410 when expired, 422 for a bad score."""
    survey, answer = await record_answer(runtime, token, data.csat, data.nps, data.comments, SurveyAnswerSource.API)
    return _answer_out(survey, answer)


@get(
    "/jobs/{job_id:str}/survey",
    **requires(StaffRole.MANAGER, StaffRole.RECEPTION, StaffRole.ENGINEER, StaffRole.ADMIN, CUSTOMER),
    operation_id="getJobSurvey",
    responses={404: _problem("No survey for this job yet, or (for a customer) not their job.")},
    tags=[*STAFF_TAGS, *PORTAL_TAGS],
)
async def get_job_survey(
    request: Request[Any, Any, Any], job_id: FromPath[str], runtime: NamedDependency[FeedbackRuntime]
) -> SurveyView:
    """The job's survey: state, expiry, answer (never a token). A customer (the portal, with their own
    token) sees only their own job's survey; another customer's job answers 404."""
    principal = principal_of(request)
    if not principal.roles.intersection(STAFF):
        job = await jobs.job_of(runtime, job_id)
        check_customers_job(job.customer.customer_id if job else None, principal.subject, job_id)
    survey = await surveys.survey_of_job(runtime, job_id)
    if survey is None:
        raise Refusal.not_found(f"job {job_id} has no survey (its report is not published yet)", field="job_id")
    return SurveyView(
        survey_id=survey.survey_id,
        job_id=job_id,
        status=survey.status,
        expires_at=survey.expires_at,
        sent_at=survey.sent_at,
        links_issued=len(survey.token_hashes),
        answer=survey.answer,
    )


@post(
    "/jobs/{job_id:str}/survey/links",
    **requires(StaffRole.MANAGER, StaffRole.RECEPTION),
    operation_id="issueSurveyLink",
    status_code=201,
    tags=STAFF_TAGS,
)
async def issue_survey_link(job_id: FromPath[str], runtime: NamedDependency[FeedbackRuntime]) -> SurveyLinkOut:
    """A new link to the job's open survey, for staff to hand to the customer (lost message, phone call).
    Earlier links keep working; the token is shown once, only its hash is kept."""
    survey, token = await issue_link(runtime, job_id)
    return SurveyLinkOut(
        survey_id=survey.survey_id,
        job_id=job_id,
        survey_url=survey_url(runtime.settings, token),
        token=token,
        expires_at=survey.expires_at,
    )


@post(
    "/jobs/{job_id:str}/survey/answer",
    **requires(CUSTOMER),
    operation_id="answerJobSurvey",
    status_code=201,
    responses={
        404: _problem("The job has no survey, or is another customer's."),
        409: _problem("The survey is already answered."),
        410: _problem("The survey has expired."),
        422: _problem("A score out of range or comments too long, each field named."),
    },
    tags=PORTAL_TAGS,
)
async def answer_job_survey(
    request: Request[Any, Any, Any],
    job_id: FromPath[str],
    data: JSONBody[SurveyAnswerIn],
    runtime: NamedDependency[FeedbackRuntime],
) -> SurveyAnswerOut:
    """The signed-in customer answers their own job's survey in the customer portal (the same one answer
    as through the e-mailed link: job.feedback_received, answered_via portal)."""
    survey, answer = await answer_customers_survey(
        runtime, job_id, principal_of(request).subject, data.csat, data.nps, data.comments
    )
    return _answer_out(survey, answer)


def _answer_out(survey: Survey, answer: SurveyAnswer) -> SurveyAnswerOut:
    return SurveyAnswerOut(
        survey_id=survey.survey_id,
        job_id=survey.job_id,
        csat=answer.csat,
        nps=answer.nps,
        comments=answer.comments,
        low_score=answer.low_score,
        answered_at=answer.answered_at,
    )


ROUTES = [
    show_survey_form,
    answer_survey_form,
    answer_survey,
    get_job_survey,
    issue_survey_link,
    answer_job_survey,
]
