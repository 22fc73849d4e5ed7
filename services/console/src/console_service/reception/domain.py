"""Reception's pure logic: finding a customer by phone, and the API bodies built from what was typed.

Each `*_body` function takes the posted form (field → text, named as the API names them, dotted for
nested fields) and returns the JSON body for intake with the errors the page can tell before asking
(a number that is not a number); intake's own refusals come back by the same names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from console_service.texts import N_, _

PRIORITIES = ("critical", "high", "normal", "low")
# Labels are marked here and translated where shown (`labelled`).
CHANNELS = (("phone", N_("Phone call")), ("portal", N_("Portal (typed in for the customer)")))
OUTCOMES = (("satisfied", N_("Satisfied")), ("problem_reported", N_("Problem reported")))
NOTIFICATION_CHANNELS = (("email", N_("E-mail")), ("webhook", N_("Webhook")))
MAX_RUNNING_HOURS = 1_000_000
MIN_PHONE_DIGITS = 4
_PHONE_QUERY = re.compile(r"^\+?[\d\s().-]+$")


# --- finding a customer --------------------------------------------------------------


def digits(text: str | None) -> str:
    return "".join(ch for ch in text or "" if ch.isdigit())


def is_phone_query(query: str) -> bool:
    """A search that is a phone number (digits, spaces, '+', '-', brackets), not part of a name."""
    return bool(_PHONE_QUERY.match(query.strip())) and len(digits(query)) >= MIN_PHONE_DIGITS


def phone_matches(query: str, phone: str | None) -> bool:
    """Whether a stored E.164 number (e.g. '+60123456789') is the one typed, in international or local
    form ('+60 12-345 6789', '012-345 6789', '345 6789')."""
    wanted, stored = digits(query), digits(phone)
    if not wanted or not stored:
        return False
    if not query.strip().startswith("+"):
        wanted = wanted.lstrip("0") or wanted  # a local number drops its trunk prefix
    return wanted in stored


def customers_with_phone(customers: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    return [
        c for c in customers if any(phone_matches(query, contact.get("phone")) for contact in c.get("contacts") or [])
    ]


# --- the customer's file --------------------------------------------------------------


@dataclass(frozen=True)
class UnitChoice:
    equipment_id: str
    site_id: str
    label: str


def unit_choices(file: dict[str, Any]) -> list[tuple[dict[str, Any], list[UnitChoice]]]:
    """The customer's units by site, each with a label a person can pick it by."""
    groups = []
    for site in file.get("sites") or []:
        units = [
            UnitChoice(
                unit["equipment_id"],
                site["site_id"],
                _("%(model)s · serial %(serial)s", model=unit["model"], serial=unit["serial_number"]),
            )
            for unit in site.get("equipment") or []
        ]
        groups.append((site, units))
    return groups


def only_unit(file: dict[str, Any]) -> str | None:
    """The customer's one unit, when it has exactly one (the form picks it for the person)."""
    units = [unit["equipment_id"] for site in file.get("sites") or [] for unit in site.get("equipment") or []]
    return units[0] if len(units) == 1 else None


def site_of_unit(file: dict[str, Any], equipment_id: str) -> str | None:
    for site in file.get("sites") or []:
        for unit in site.get("equipment") or []:
            if unit.get("equipment_id") == equipment_id:
                return str(site["site_id"])
    return None


def jobs_on_file(file: dict[str, Any]) -> list[str]:
    """The customer's job ids, open ones first, then those in the service history (newest first)."""
    seen: list[str] = []
    for job in file.get("open_jobs") or []:
        if job["job_id"] not in seen:
            seen.append(job["job_id"])
    history = [
        entry
        for site in file.get("sites") or []
        for unit in site.get("equipment") or []
        for entry in unit.get("history") or []
    ]
    for entry in sorted(history, key=lambda e: str(e.get("service_date") or ""), reverse=True):
        if entry["job_id"] not in seen:
            seen.append(entry["job_id"])
    return seen


# --- bodies for intake ----------------------------------------------------------------


def _text(values: dict[str, str], name: str) -> str | None:
    value = (values.get(name) or "").strip()
    return value or None


def _integer(values: dict[str, str], name: str, errors: dict[str, str], low: int, high: int) -> int | None:
    raw = _text(values, name)
    if raw is None:
        return None
    try:
        number = int(raw.replace(",", "").replace(" ", ""))
    except ValueError:
        errors[name] = _("a whole number")
        return None
    if not low <= number <= high:
        errors[name] = _("between %(low)s and %(high)s", low=low, high=high)
    return number


def _date(values: dict[str, str], name: str, errors: dict[str, str]) -> str | None:
    raw = _text(values, name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        errors[name] = _("a date, e.g. 2021-06-14")
        return None


def _contact(values: dict[str, str], prefix: str) -> dict[str, Any]:
    contact: dict[str, Any] = {"name": _text(values, f"{prefix}.name") or ""}
    for key in ("role", "phone", "email"):
        value = _text(values, f"{prefix}.{key}")
        if value:
            contact[key] = value
    for key in ("preferred_channel", "language"):
        chosen = _text(values, f"{prefix}.{key}")
        if chosen:
            contact[key] = chosen
    return contact


def customer_body(values: dict[str, str]) -> dict[str, Any]:
    """POST /customers: the organisation and its main contact."""
    return {"name": _text(values, "name") or "", "contacts": [_contact(values, "contacts.0")]}


def site_body(values: dict[str, str]) -> dict[str, Any]:
    """POST /customers/{id}/sites."""
    body: dict[str, Any] = {
        name: _text(values, name) or "" for name in ("name", "address", "city", "country", "region")
    }
    if country := body["country"]:
        body["country"] = country.upper()
    postal_code = _text(values, "postal_code")
    if postal_code:
        body["postal_code"] = postal_code
    return body


def equipment_body(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """POST /customers/{id}/equipment, and what is wrong with it before asking."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "site_id": _text(values, "site_id") or "",
        "model_code": _text(values, "model_code") or "",
        "serial_number": _text(values, "serial_number") or "",
        "purchase_date": _date(values, "purchase_date", errors) or "",
        "dryer_fitted": values.get("dryer_fitted") in ("on", "true", "1"),
    }
    for name in ("running_hours", "last_service_hours"):
        number = _integer(values, name, errors, 0, MAX_RUNNING_HOURS)
        if number is not None:
            body[name] = number
    for name in ("last_service_on", "warranty_end"):
        when = _date(values, name, errors)
        if when:
            body[name] = when
    for name in ("site_id", "model_code", "serial_number", "purchase_date"):
        if not body[name] and name not in errors:
            errors[name] = _("required")
    return body, errors


def request_body(
    values: dict[str, str], customer_id: str, file: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """POST /requests for a call: the unit on file (its site follows from it), the fault, priority and
    channel; the caller when it is not the customer's main contact."""
    errors: dict[str, str] = {}
    equipment_id = _text(values, "equipment_id") or ""
    site_id = site_of_unit(file, equipment_id) if equipment_id else None
    if not equipment_id:
        errors["equipment_id"] = _("pick the unit the call is about")
    elif site_id is None:
        errors["equipment_id"] = _("not a unit on this customer's file")
    body: dict[str, Any] = {
        "channel": _text(values, "channel") or "phone",
        "priority": _text(values, "priority") or "normal",
        "customer_id": customer_id,
        "site_id": site_id or "",
        "equipment_id": equipment_id,
        "fault_description": _text(values, "fault_description"),
    }
    if not body["fault_description"]:
        errors["fault_description"] = _("describe the fault")
    if _text(values, "contact.name") or _text(values, "contact.phone") or _text(values, "contact.email"):
        body["contact"] = _contact(values, "contact")
        if not body["contact"]["name"]:
            errors["contact.name"] = _("who called")
    return body, errors


def callback_body(
    values: dict[str, str], customer_id: str, file: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """POST /callbacks: the return-visit call about a unit; a reported problem raises a request."""
    errors: dict[str, str] = {}
    equipment_id = _text(values, "equipment_id") or ""
    site_id = site_of_unit(file, equipment_id) if equipment_id else None
    if not equipment_id:
        errors["equipment_id"] = _("pick the unit the call was about")
    elif site_id is None:
        errors["equipment_id"] = _("not a unit on this customer's file")
    outcome = _text(values, "outcome")
    if outcome not in dict(OUTCOMES):
        errors["outcome"] = _("satisfied or problem reported")
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "site_id": site_id or "",
        "equipment_id": equipment_id,
        "outcome": outcome or "",
        "notes": _text(values, "notes") or "",
    }
    if not body["notes"]:
        errors["notes"] = _("what the customer said")
    previous = _text(values, "previous_job_id")
    if previous:
        body["previous_job_id"] = previous
    priority = _text(values, "priority")
    if priority:
        body["priority"] = priority
    return body, errors


def today() -> str:
    return date.today().isoformat()


_INDEX = re.compile(r"\[(\d+)\]")
CUSTOMER_FIELDS = frozenset(
    {"name"} | {f"contacts.0.{key}" for key in ("name", "role", "phone", "email", "preferred_channel", "language")}
)
SITE_FIELDS = frozenset({"name", "address", "city", "postal_code", "country", "region"})
EQUIPMENT_FIELDS = frozenset(
    {
        "site_id",
        "model_code",
        "serial_number",
        "purchase_date",
        "warranty_end",
        "running_hours",
        "last_service_on",
        "last_service_hours",
        "dryer_fitted",
    }
)
CALL_FIELDS = frozenset(
    {"equipment_id", "fault_description", "priority", "channel", "contact.name", "contact.phone", "contact.email"}
)
CALLBACK_FIELDS = frozenset({"equipment_id", "previous_job_id", "outcome", "notes", "priority"})


def field_errors(errors: dict[str, str]) -> dict[str, str]:
    """Intake's field names as the form's inputs are named ('contacts[0].phone' → 'contacts.0.phone'),
    with a refusal of the site derived from the unit shown beside the unit."""
    shown = {_INDEX.sub(r".\1", name): message for name, message in errors.items()}
    if "site_id" in shown and "equipment_id" not in shown:
        shown["equipment_id"] = shown["site_id"]
    return shown


def refusal_message(message: str | None, errors: dict[str, str], fields: frozenset[str]) -> str | None:
    """The notice above a refused form: a pointer to the marked fields when every refused field is on
    the form, else intake's own message (which names the field)."""
    if errors and all(name in fields for name in errors):
        return _("Not recorded: see the fields marked below.")
    return message
