"""The scan page's pure logic: checking the fault form as typed (messages in the reader's language,
beside their fields), and intake's refusals by the same field names."""

from __future__ import annotations

import re
from typing import Any

from console_service.texts import N_, _

FIELDS = ("reporter_name", "reporter_phone", "description")
NAME_MAX, DESCRIPTION_MAX = 200, 2000
_SEPARATORS = re.compile(r"[\s\-().]")
_MALAYSIAN = re.compile(r"^\+60[1-9][0-9]{7,9}$")

MESSAGES = {
    "reporter_name": N_("Your name, please."),
    "reporter_phone": N_("A Malaysian phone number, e.g. 012-345 6789 or +60 12-345 6789."),
    "description": N_("Tell us what is wrong with the machine."),
}


def malaysian_phone(raw: str) -> str | None:
    """E.164 from what a person types ('012-345 6789', '+60 12-345 6789'); None when it is not a
    Malaysian number. The same rule as intake's, told here so the form answers at once."""
    digits = _SEPARATORS.sub("", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0"):
        digits = "+60" + digits[1:]
    elif digits.startswith("60"):
        digits = "+" + digits
    return digits if _MALAYSIAN.fullmatch(digits) else None


def report_body(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The body for intake's POST /labels/{label_id}/fault-reports, and what is wrong with the form."""
    name = (values.get("reporter_name") or "").strip()
    phone = (values.get("reporter_phone") or "").strip()
    description = (values.get("description") or "").strip()
    errors = {}
    if not name or len(name) > NAME_MAX:
        errors["reporter_name"] = _(MESSAGES["reporter_name"])
    if malaysian_phone(phone) is None:
        errors["reporter_phone"] = _(MESSAGES["reporter_phone"])
    if not description or len(description) > DESCRIPTION_MAX:
        errors["description"] = _(MESSAGES["description"])
    return {"reporter_name": name, "reporter_phone": phone, "description": description}, errors


def refused_fields(errors: dict[str, str]) -> dict[str, str]:
    """Intake's refusal by field, in the reader's words (its own texts are English)."""
    return {name: _(MESSAGES[name]) for name in errors if name in MESSAGES}


def retry_minutes(retry_after: str | None) -> int:
    """Retry-After (seconds) as whole minutes to tell a person (at least 1)."""
    try:
        seconds = int(retry_after or "0")
    except ValueError:
        seconds = 0
    return max(1, -(-seconds // 60))


def open_jobs_of(machine: dict[str, Any]) -> list[dict[str, Any]]:
    return list(machine.get("open_jobs") or [])
