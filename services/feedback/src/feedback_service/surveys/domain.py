"""Survey rules, pure: tokens, answer validation, when a survey can be answered, low scores."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from compressor_contracts.common import StoredObject
from compressor_contracts.events.feedback import SurveyAnswerSource, SurveyStatus
from compressor_kit.refusals import FieldIssue, Refusal

CSAT_RANGE = (1, 5)
NPS_RANGE = (0, 10)
MAX_COMMENTS = 20000

OPEN: Literal["open"] = "open"
"""A survey not yet answered nor expired; a closed survey is answered or expired (`SurveyStatus`)."""


class SurveyAnswer(BaseModel):
    """The one answer a survey gets."""

    csat: int
    nps: int
    comments: str | None
    answered_via: SurveyAnswerSource
    answered_at: datetime
    low_score: bool


class Survey(BaseModel):
    """One job's survey: opened when its report is published, answered once or expired."""

    survey_id: str
    job_id: str
    status: Literal["open"] | SurveyStatus
    created_at: datetime
    expires_at: datetime
    record_id: str
    record_version: int
    report: StoredObject
    token_hashes: list[str]
    sent_at: datetime | None
    answer: SurveyAnswer | None


def new_token() -> str:
    """An unguessable survey token (256 bits). Only its hash is stored."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Answer:
    csat: int
    nps: int
    comments: str | None


def _score(raw: object, field: str, bounds: tuple[int, int]) -> int | FieldIssue:
    """The whole number in range, or the issue with it."""
    low, high = bounds
    if raw is None or raw == "":
        return FieldIssue(field, f"{field} is required: a whole number from {low} to {high}")
    value: int | None = None
    if isinstance(raw, int | str) and not isinstance(raw, bool):
        try:
            value = int(raw)
        except ValueError:
            value = None
    if value is None:
        return FieldIssue(field, f"{field} must be a whole number from {low} to {high}")
    if not low <= value <= high:
        return FieldIssue(field, f"{field} must be from {low} to {high}, got {value}")
    return value


def parse_answer(csat: object, nps: object, comments: object) -> Answer:
    """An answer from the form (strings) or the API (numbers); refused naming every bad field, the first
    of them (csat, nps, comments) in `detail`."""
    checked_csat = _score(csat, "csat", CSAT_RANGE)
    checked_nps = _score(nps, "nps", NPS_RANGE)
    issues = [checked for checked in (checked_csat, checked_nps) if isinstance(checked, FieldIssue)]
    text: str | None = None
    if comments is not None and not isinstance(comments, str):
        issues.append(FieldIssue("comments", "comments must be text"))
    else:
        text = (comments or "").strip() or None
        if text is not None and len(text) > MAX_COMMENTS:
            issues.append(FieldIssue("comments", f"comments must be at most {MAX_COMMENTS} characters"))
    if isinstance(checked_csat, FieldIssue) or isinstance(checked_nps, FieldIssue) or issues:
        raise Refusal.invalid(issues[0].message, issues=issues)
    return Answer(checked_csat, checked_nps, text)


def check_answerable(status: str, expires_at: datetime, now: datetime) -> None:
    """Refused when the survey cannot be answered now: answered already, or expired."""
    if status == SurveyStatus.ANSWERED:
        raise Refusal.conflict("this survey has already been answered; thank you")
    if status == SurveyStatus.EXPIRED or now >= expires_at:
        raise Refusal.gone(f"this survey expired on {expires_at:%d %b %Y %H:%M} UTC and can no longer be answered")


def check_customers_job(owner: str | None, customer_id: str, job_id: str) -> None:
    """A customer reaches only their own job's survey: another customer's job answers as if it had no
    survey (not found), so its existence is not revealed."""
    if owner != customer_id:
        raise Refusal.not_found(f"job {job_id} has no survey", field="job_id")


def check_link_issuable(survey: Survey, now: datetime) -> None:
    """A new link is for a survey that can still be answered."""
    try:
        check_answerable(survey.status, survey.expires_at, now)
    except Refusal as refusal:
        raise Refusal.conflict(f"no new link: {refusal.detail}") from refusal


def is_low_score(answer: Answer, low_csat: int, low_nps: int) -> bool:
    return answer.csat <= low_csat or answer.nps <= low_nps
