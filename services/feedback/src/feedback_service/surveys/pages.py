"""The survey's HTML pages for the customer's browser, in the language chosen for them: the form (again
with each problem beside its field and what was typed), and the pages that say the survey is answered,
expired, unknown, or thanks. Rendered in the current language (`speaking`, set by the handler)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC

from litestar import MediaType, Response

from compressor_contracts.common import Language
from compressor_kit.i18n import format_decimal, negotiate, parse_language
from compressor_kit.public_pages import SecurityHeaders, policy
from compressor_kit.refusals import Refusal, RefusalKind
from feedback_service.jobs.domain import Job
from feedback_service.settings import FeedbackSettings
from feedback_service.surveys.domain import CSAT_RANGE, MAX_COMMENTS, NPS_RANGE, Survey
from feedback_service.templates import HERE as TEMPLATES
from feedback_service.templates import render_page, written_time
from feedback_service.texts import _


def _style_hash() -> str:
    """The pages' one <style> block (in the layout, no template code inside) as a CSP source."""
    layout = (TEMPLATES / "survey" / "layout.html").read_text(encoding="utf-8")
    found = re.search(r"<style>(.*?)</style>", layout, re.DOTALL)
    assert found, "the survey layout has no <style> block"
    return "'sha256-" + base64.b64encode(hashlib.sha256(found.group(1).encode()).digest()).decode() + "'"


# On every answer of the survey routes (pages, refusals, 429s): the pages hold no script, load nothing,
# style themselves with their one known <style> block, post only back here and are never framed. The
# token is in the address: no Referer carries it anywhere, no cache keeps the page.
SURVEY_HEADERS = {
    "Content-Security-Policy": policy(
        {
            "default-src": "'none'",
            "style-src": _style_hash(),
            "form-action": "'self'",
            "base-uri": "'none'",
            "frame-ancestors": "'none'",
        }
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
SECURITY_HEADERS = SecurityHeaders(lambda _settings: SURVEY_HEADERS)
FIELDS = ("csat", "nps", "comments")


def page_language(chosen: str | None, job: Job | None, accept_language: str | None) -> Language:
    """The language switch's choice; else the contact's preferred language; else the browser's; else English."""
    return (
        parse_language(chosen) or (job.contact.language if job else None) or negotiate(accept_language) or Language.EN
    )


def survey_path(token: str) -> str:
    return f"/surveys/{token}"


def html(body: str, status: int, language: Language) -> Response[str]:
    return Response(body, status_code=status, media_type=MediaType.HTML, headers={"Content-Language": language.value})


def message_page(title: str, message: str, status: int, language: Language, token: str | None) -> Response[str]:
    switch_to = survey_path(token) if token else None
    body = render_page("message", {"title": title, "message": message, "switch_to": switch_to}, zone=UTC)
    return html(body, status, language)


def not_found_page(language: Language, token: str) -> Response[str]:
    return message_page(
        _("Survey not found"),
        _("No survey has this link. Please check the address in your message."),
        404,
        language,
        token,
    )


def too_many_requests_page(language: Language, retry_after: str) -> Response[str]:
    response = message_page(
        _("Too many requests"),
        _("This page was opened too often from your network. Please wait a minute and try again."),
        429,
        language,
        None,
    )
    response.headers["Retry-After"] = retry_after
    return response


def thank_you_page(language: Language, token: str) -> Response[str]:
    return message_page(
        _("Thank you"), _("Your answer has been recorded. Thank you for your feedback."), 200, language, token
    )


def closed_page(
    refusal: Refusal, survey: Survey, settings: FeedbackSettings, language: Language, token: str
) -> Response[str]:
    """Answered already (409), expired (410), or no such survey (404)."""
    if refusal.kind is RefusalKind.CONFLICT:
        return message_page(
            _("Already answered"),
            _("This survey has already been answered. Thank you for your feedback."),
            409,
            language,
            token,
        )
    if refusal.kind is RefusalKind.GONE:
        closed_on = written_time(survey.expires_at, settings.time_zone())
        return message_page(
            _("Survey closed"),
            _("This survey expired on %(date)s and can no longer be answered.", date=closed_on),
            410,
            language,
            token,
        )
    return not_found_page(language, token)


def field_problems(refusal: Refusal) -> dict[str, str]:
    """What the customer reads beside each refused field, in their language."""
    said = {
        "csat": _(
            "Choose a score from %(low)s (very dissatisfied) to %(high)s (very satisfied).",
            low=CSAT_RANGE[0],
            high=CSAT_RANGE[1],
        ),
        "nps": _(
            "Choose a score from %(low)s (not at all likely) to %(high)s (extremely likely).",
            low=NPS_RANGE[0],
            high=NPS_RANGE[1],
        ),
        "comments": _("Please shorten your comments to at most %(max)s characters.", max=format_decimal(MAX_COMMENTS)),
    }
    return {issue.field: said[issue.field] for issue in refusal.issues if issue.field in said}


def form_page(
    *,
    token: str,
    survey: Survey,
    job: Job | None,
    settings: FeedbackSettings,
    language: Language,
    typed: Mapping[str, str] | None = None,
    refusal: Refusal | None = None,
) -> Response[str]:
    """The form, empty; or again as posted, each problem beside its field (422)."""
    outcome = job.record.outcome if job and job.record else None
    values = {name: (typed or {}).get(name, "") for name in FIELDS}
    said = field_problems(refusal) if refusal else {}
    problems = {name: said.get(name, "") for name in FIELDS}  # every field named: the templates are strict
    body = render_page(
        "form",
        {
            "job_id": survey.job_id,
            "equipment": f"{job.equipment.brand} {job.equipment.model}".strip() if job else _("machine"),
            "site": job.site.name if job else _("your site"),
            "engineer": outcome.engineer.name if outcome else _("our engineer"),
            "report_url": settings.report_link(survey.job_id),
            "expires_at": survey.expires_at,
            "action": survey_path(token),
            "switch_to": survey_path(token),
            "values": values,
            "problems": problems,
            "max_comments": MAX_COMMENTS,
        },
        zone=settings.time_zone(),
    )
    return html(body, 422 if refusal else 200, language)
