"""Survey rules, pure: tokens, answer validation, low scores."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

CSAT_RANGE = (1, 5)
NPS_RANGE = (0, 10)
MAX_COMMENTS = 20000


class SurveyState(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    EXPIRED = "expired"


def new_token() -> str:
    """An unguessable survey token (256 bits). Only its hash is stored."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class AnswerError:
    status: int
    detail: str
    field: str | None = None


@dataclass(frozen=True)
class Answer:
    csat: int
    nps: int
    comments: str | None


def _score(raw: Any, field: str, bounds: tuple[int, int]) -> int | AnswerError:
    low, high = bounds
    if raw is None or raw == "":
        return AnswerError(422, f"{field} is required: a whole number from {low} to {high}", field)
    if isinstance(raw, bool):
        return AnswerError(422, f"{field} must be a whole number from {low} to {high}", field)
    try:
        value = int(raw) if isinstance(raw, int | str) else None
    except ValueError:
        value = None
    if value is None:
        return AnswerError(422, f"{field} must be a whole number from {low} to {high}", field)
    if not low <= value <= high:
        return AnswerError(422, f"{field} must be from {low} to {high}, got {value}", field)
    return value


def parse_answer(csat: Any, nps: Any, comments: Any) -> Answer | AnswerError:
    """Validate an answer from the form (strings) or the API (numbers)."""
    checked_csat = _score(csat, "csat", CSAT_RANGE)
    if isinstance(checked_csat, AnswerError):
        return checked_csat
    checked_nps = _score(nps, "nps", NPS_RANGE)
    if isinstance(checked_nps, AnswerError):
        return checked_nps
    if comments is not None and not isinstance(comments, str):
        return AnswerError(422, "comments must be text", "comments")
    text = (comments or "").strip() or None
    if text is not None and len(text) > MAX_COMMENTS:
        return AnswerError(422, f"comments must be at most {MAX_COMMENTS} characters", "comments")
    return Answer(checked_csat, checked_nps, text)


def answerable(state: str, expires_at: datetime, now: datetime) -> AnswerError | None:
    """Why a survey cannot be answered now, or None."""
    if state == SurveyState.ANSWERED:
        return AnswerError(409, "this survey has already been answered; thank you")
    if state == SurveyState.EXPIRED or now >= expires_at:
        return AnswerError(410, f"this survey expired on {expires_at:%d %b %Y %H:%M} UTC and can no longer be answered")
    return None


def is_low_score(answer: Answer, low_csat: int, low_nps: int) -> bool:
    return answer.csat <= low_csat or answer.nps <= low_nps
