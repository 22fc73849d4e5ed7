"""The customer file's rules (pure, no I/O): what a valid customer, contact, site and piece of
equipment is, when equipment is next due for service, and what a closed job adds to its history.

Dates are kept as ISO strings (`YYYY-MM-DD`) in documents: they sort and compare as text.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import Contact, Equipment, FollowUpKind, JobClosed, NotificationChannel, Site
from intake_service.catalogue.domain import EquipmentModel
from intake_service.validation import FieldError

Doc = dict[str, Any]

# --- input --------------------------------------------------------------------


WIDE = 10**12
"""Bounds of every integer input: within MongoDB's 64 bits; the rules below give the real ranges."""


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ContactIn(_Input):
    name: str = Field(min_length=1, max_length=200, description="Full name of the contact person.")
    role: str | None = Field(default=None, min_length=1, max_length=200, description="Job title.")
    phone: str | None = Field(
        default=None, max_length=40, description="International number, e.g. '+60 12-345 6789' (stored as E.164)."
    )
    email: str | None = Field(default=None, max_length=254, description="E-mail address.")
    preferred_channel: NotificationChannel = Field(default=NotificationChannel.EMAIL)


class CustomerIn(_Input):
    name: str = Field(min_length=1, max_length=200, description="Customer organisation name.")
    contacts: list[ContactIn] = Field(min_length=1, max_length=20, description="The first is the main contact.")


class SiteIn(_Input):
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=2000, description="Street address, one line.")
    city: str = Field(min_length=1, max_length=200)
    postal_code: str | None = Field(default=None, min_length=1, max_length=200)
    country: str = Field(max_length=64, description="ISO 3166-1 alpha-2, e.g. 'MY'.")
    region: str = Field(max_length=64, description="Service region code used for engineer matching, e.g. 'central'.")


class EquipmentIn(_Input):
    site_id: str = Field(max_length=64, description="Site of this customer where the unit is installed.")
    model_code: str = Field(max_length=64, description="Model code from the equipment catalogue.")
    serial_number: str = Field(min_length=1, max_length=200)
    purchase_date: date
    warranty_end: date | None = Field(default=None, description="Defaults to purchase date + the model's warranty.")
    running_hours: int | None = Field(default=None, ge=-WIDE, le=WIDE, description="Hour-meter reading now, if known.")
    last_service_on: date | None = Field(default=None, description="Date of the last service, if any.")
    last_service_hours: int | None = Field(
        default=None, ge=-WIDE, le=WIDE, description="Hour-meter reading at the last service."
    )
    dryer_fitted: bool = False


class MeterReadingIn(_Input):
    running_hours: int = Field(ge=-WIDE, le=WIDE, description="Hour-meter reading now.")


# --- validation ---------------------------------------------------------------

_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_REGION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_RUNNING_HOURS = 1_000_000


def normalise_phone(raw: str) -> str | None:
    """E.164 from what people type ('+60 12-345 6789', '0060123456789'); None when it is not one."""
    digits = _PHONE_SEPARATORS.sub("", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    return digits if _E164.fullmatch(digits) else None


def valid_email(raw: str) -> bool:
    return len(raw) <= 254 and bool(_EMAIL.fullmatch(raw)) and ".." not in raw


def check_contact(contact: ContactIn, at: str) -> tuple[Contact | None, list[FieldError]]:
    errors: list[FieldError] = []
    phone = None
    if contact.phone:
        phone = normalise_phone(contact.phone)
        if phone is None:
            errors.append(FieldError(f"{at}.phone", "not a phone number in international form, e.g. '+60 12-345 6789'"))
    if contact.email and not valid_email(contact.email):
        errors.append(FieldError(f"{at}.email", "not a valid e-mail address"))
    if not contact.phone and not contact.email:
        errors.append(FieldError(f"{at}.phone", "a contact needs a phone number or an e-mail address"))
    if errors:
        return None, errors
    return (
        Contact(
            name=contact.name,
            role=contact.role,
            phone=phone,
            email=contact.email or None,
            preferred_channel=contact.preferred_channel,
        ),
        [],
    )


def check_customer(customer: CustomerIn) -> tuple[list[Contact], list[FieldError]]:
    contacts, errors = [], []
    for i, contact_in in enumerate(customer.contacts):
        contact, contact_errors = check_contact(contact_in, f"contacts[{i}]")
        errors += contact_errors
        if contact:
            contacts.append(contact)
    return contacts, errors


def check_site(site: SiteIn) -> list[FieldError]:
    errors = []
    if not _COUNTRY.fullmatch(site.country):
        errors.append(FieldError("country", "an ISO 3166-1 alpha-2 code in capitals, e.g. 'MY'"))
    if not _REGION.fullmatch(site.region):
        errors.append(FieldError("region", "a region code: letters, digits and '_ . : -', at most 64"))
    return errors


def check_equipment_facts(
    *,
    model: EquipmentModel | None,
    serial_number: str,
    purchase_date: date,
    running_hours: int | None,
    today: date,
    at: str = "",
) -> list[FieldError]:
    """Rules shared by registering equipment and recording a request for a unit not yet on file."""
    errors = []
    if model is None:
        errors.append(FieldError(f"{at}model_code", "unknown equipment model: not in the equipment catalogue"))
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ._/-]{0,63}", serial_number):
        errors.append(FieldError(f"{at}serial_number", "letters, digits and ' ._/-', at most 64"))
    if purchase_date > today:
        errors.append(FieldError(f"{at}purchase_date", "purchase date is in the future"))
    if running_hours is not None and not 0 <= running_hours <= MAX_RUNNING_HOURS:
        errors.append(FieldError(f"{at}running_hours", f"between 0 and {MAX_RUNNING_HOURS}"))
    return errors


def check_equipment(equipment: EquipmentIn, model: EquipmentModel | None, today: date) -> list[FieldError]:
    errors = check_equipment_facts(
        model=model,
        serial_number=equipment.serial_number,
        purchase_date=equipment.purchase_date,
        running_hours=equipment.running_hours,
        today=today,
    )
    if equipment.warranty_end is not None and equipment.warranty_end < equipment.purchase_date:
        errors.append(FieldError("warranty_end", "warranty cannot end before the purchase date"))
    if equipment.last_service_on is not None:
        if equipment.last_service_on > today:
            errors.append(FieldError("last_service_on", "last service date is in the future"))
        elif equipment.last_service_on < equipment.purchase_date:
            errors.append(FieldError("last_service_on", "last service cannot be before the purchase date"))
    if equipment.last_service_hours is not None:
        if equipment.last_service_on is None:
            errors.append(FieldError("last_service_hours", "give last_service_on with the hours at that service"))
        elif not 0 <= equipment.last_service_hours <= (equipment.running_hours or MAX_RUNNING_HOURS):
            errors.append(FieldError("last_service_hours", "cannot exceed the running hours now"))
    return errors


# --- service intervals ---------------------------------------------------------


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_service_due(
    model: EquipmentModel, *, purchase_date: date, last_service_on: date | None, last_service_hours: int | None
) -> tuple[date, int | None]:
    """(due date, due hour-meter reading) per the model's interval, counted from the last service or,
    for a unit never serviced, from its purchase (at 0 h). The hours are unknown (None) when the last
    service's hour reading is."""
    if last_service_on is None:
        return add_months(purchase_date, model.service_interval_months), model.service_interval_hours
    due_hours = None if last_service_hours is None else last_service_hours + model.service_interval_hours
    return add_months(last_service_on, model.service_interval_months), due_hours


def new_equipment_document(
    equipment_id: str,
    customer_id: str,
    site_id: str,
    model: EquipmentModel,
    *,
    serial_number: str,
    purchase_date: date,
    warranty_end: date | None = None,
    running_hours: int | None = None,
    last_service_on: date | None = None,
    last_service_hours: int | None = None,
    dryer_fitted: bool = False,
) -> Doc:
    due_on, due_hours = next_service_due(
        model, purchase_date=purchase_date, last_service_on=last_service_on, last_service_hours=last_service_hours
    )
    return {
        "_id": equipment_id,
        "customer_id": customer_id,
        "site_id": site_id,
        "model_code": model.model_code,
        "brand": model.brand,
        "model": model.model,
        "compressor_type": model.compressor_type.value,
        "serial_number": serial_number,
        "purchase_date": purchase_date.isoformat(),
        "warranty_end": (warranty_end or add_months(purchase_date, model.warranty_months)).isoformat(),
        "running_hours": running_hours,
        "dryer_fitted": dryer_fitted,
        "last_service_on": last_service_on.isoformat() if last_service_on else None,
        "last_service_hours": last_service_hours,
        "next_service_due_on": due_on.isoformat(),
        "next_service_due_at_hours": due_hours,
    }


# --- contract views --------------------------------------------------------------


def contract_site(doc: Doc) -> Site:
    return Site(
        site_id=doc["_id"],
        name=doc["name"],
        address=doc["address"],
        city=doc["city"],
        postal_code=doc.get("postal_code"),
        country=doc["country"],
        region=doc["region"],
    )


def contract_equipment(doc: Doc) -> Equipment:
    return Equipment(
        equipment_id=doc["_id"],
        model_code=doc["model_code"],
        brand=doc["brand"],
        model=doc["model"],
        compressor_type=doc["compressor_type"],
        serial_number=doc["serial_number"],
        purchase_date=date.fromisoformat(doc["purchase_date"]),
        warranty_end=date.fromisoformat(doc["warranty_end"]) if doc.get("warranty_end") else None,
        running_hours=doc.get("running_hours"),
        dryer_fitted=doc.get("dryer_fitted", False),
    )


# --- the closed job in the equipment's history ------------------------------------


def history_entry_id(job_id: str) -> str:
    """One history entry per job: the natural key that keeps a redelivered job.closed from adding two."""
    return f"HIST-{job_id}"[:64]


def history_entry(closed: JobClosed) -> Doc:
    outcome = closed.outcome
    return {
        "_id": history_entry_id(closed.job_id),
        "job_id": closed.job_id,
        "customer_id": outcome.customer_id,
        "equipment_id": outcome.equipment_id,
        "service_date": outcome.service_date.isoformat(),
        "engineer": outcome.engineer.model_dump(mode="json"),
        "root_cause": outcome.root_cause,
        "failure_category": outcome.failure_category.value,
        "repair_method": outcome.repair_method,
        "parts_used": [part.model_dump(mode="json") for part in outcome.parts_used],
        "labour_hours": outcome.labour_hours,
        "inspection_rounds": outcome.inspection_rounds,
        "running_hours": outcome.running_hours,
        "record_id": closed.record_id,
        "record_version": closed.record_version,
        "report": {"bucket": closed.report.bucket, "object_key": closed.report.object_key},
        "survey_status": closed.survey_status.value,
        "csat": closed.csat,
        "nps": closed.nps,
        "follow_ups": [f.model_dump(mode="json") for f in closed.follow_ups],
    }


def after_service(equipment: Doc, model: EquipmentModel, closed: JobClosed) -> Doc:
    """The equipment fields a recorded service changes. A service older than the one on file (an
    out-of-order close) goes into the history but does not move the last service back."""
    outcome = closed.outcome
    hours = equipment.get("running_hours")
    if outcome.running_hours is not None:
        hours = max(hours or 0, outcome.running_hours)
    update: Doc = {"running_hours": hours}
    previous = equipment.get("last_service_on")
    if previous is None or outcome.service_date.isoformat() >= previous:
        due_on, due_hours = next_service_due(
            model,
            purchase_date=date.fromisoformat(equipment["purchase_date"]),
            last_service_on=outcome.service_date,
            last_service_hours=outcome.running_hours,
        )
        update |= {
            "last_service_on": outcome.service_date.isoformat(),
            "last_service_hours": outcome.running_hours,
            "next_service_due_on": due_on.isoformat(),
            "next_service_due_at_hours": due_hours,
        }
    return update


def follow_up_visits(closed: JobClosed, site_id: str) -> list[Doc]:
    """The dated proactive visits the review decided on; the proactive scheduler raises each once
    it is due. Keyed by job and position, so a redelivered close plans nothing twice."""
    outcome = closed.outcome
    return [
        {
            "_id": f"{closed.job_id}#{position}",
            "source_job_id": closed.job_id,
            "customer_id": outcome.customer_id,
            "site_id": site_id,
            "equipment_id": outcome.equipment_id,
            "due_on": follow_up.due_on.isoformat(),
            "description": follow_up.description,
        }
        for position, follow_up in enumerate(closed.follow_ups)
        if follow_up.kind is FollowUpKind.PROACTIVE_VISIT and follow_up.due_on is not None
    ]
