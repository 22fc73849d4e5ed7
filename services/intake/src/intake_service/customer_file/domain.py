"""The customer file's rules (pure, no I/O): what a valid customer, contact, site and piece of
equipment is, when equipment is next due for service, and what a closed job adds to its history."""

from __future__ import annotations

import calendar
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from compressor_contracts import (
    CompressorType,
    Contact,
    Customer,
    CustomerFileUpdated,
    Engineer,
    Equipment,
    FailureCategory,
    FollowUp,
    FollowUpKind,
    JobClosed,
    NotificationChannel,
    PartUsed,
    Site,
    SurveyStatus,
)
from compressor_contracts.common import Language
from compressor_kit.refusals import FieldIssue, Refusal, RefusalKind
from intake_service.catalogue.domain import EquipmentModel

MAX_RUNNING_HOURS = 1_000_000
MAX_CONTACTS = 20


def invalid(issues: list[FieldIssue]) -> Refusal:
    """The refusal naming every field at fault (the first one in the detail); nothing is written."""
    first = issues[0]
    return Refusal(RefusalKind.INVALID, f"{first.field}: {first.message}", issues=issues)


# --- what callers describe ---------------------------------------------------------


@dataclass(frozen=True)
class ContactDetails:
    """A contact as the caller typed it, before it is checked."""

    name: str
    role: str | None = None
    phone: str | None = None
    email: str | None = None
    preferred_channel: NotificationChannel = NotificationChannel.EMAIL
    language: Language | None = None
    """The preferred language; None when the caller did not say (see `checked_contact`)."""


@dataclass(frozen=True)
class UnitDetails:
    """A compressor as the caller describes it: registered on the file, or named in a request."""

    model_code: str
    serial_number: str
    purchase_date: date
    running_hours: int | None = None
    warranty_end: date | None = None
    last_service_on: date | None = None
    last_service_hours: int | None = None
    dryer_fitted: bool = False


# --- what the file holds --------------------------------------------------------------


CUSTOMER_EXAMPLE: JsonDict = {
    "customer_id": "CUST-1A2B3C4D5E6F",
    "name": "Seri Murni Foods Sdn Bhd",
    "contacts": [
        {
            "name": "Aminah binti Rahman",
            "role": "Plant maintenance lead",
            "phone": "+60123456789",
            "email": "aminah.rahman@serimurni.example",
            "preferred_channel": "email",
            "language": "ms",
        }
    ],
    "created_at": "2026-03-02T08:00:00Z",
}


class CustomerOnFile(BaseModel):
    """A customer and its contacts; the first contact is the main one."""

    model_config = ConfigDict(json_schema_extra={"examples": [CUSTOMER_EXAMPLE]})

    customer_id: str
    name: str
    contacts: list[Contact] = Field(min_length=1)
    created_at: datetime

    def as_contract(self) -> Customer:
        return Customer(customer_id=self.customer_id, name=self.name)


SITE_EXAMPLE: JsonDict = {
    "site_id": "SITE-7F3A9C21B04D",
    "customer_id": "CUST-1A2B3C4D5E6F",
    "name": "Shah Alam plant 2",
    "address": "Lot 12, Jalan Perusahaan 4, Seksyen 15",
    "city": "Shah Alam",
    "postal_code": "40200",
    "country": "MY",
    "region": "central",
}


class SiteOnFile(BaseModel):
    """Where a customer's equipment is installed."""

    model_config = ConfigDict(json_schema_extra={"examples": [SITE_EXAMPLE]})

    site_id: str
    customer_id: str
    name: str
    address: str
    city: str
    postal_code: str | None = None
    country: str
    region: str

    def as_contract(self) -> Site:
        return Site(
            site_id=self.site_id,
            name=self.name,
            address=self.address,
            city=self.city,
            postal_code=self.postal_code,
            country=self.country,
            region=self.region,
        )


UNIT_EXAMPLE: JsonDict = {
    "equipment_id": "EQ-5D0E8B7A1C92",
    "customer_id": "CUST-1A2B3C4D5E6F",
    "site_id": "SITE-7F3A9C21B04D",
    "model_code": "AC-GA37VSD",
    "brand": "Atlas Copco",
    "model": "GA 37 VSD+",
    "compressor_type": "oil_injected_screw",
    "serial_number": "API123456",
    "purchase_date": "2021-06-14",
    "warranty_end": "2023-06-14",
    "running_hours": 23410,
    "dryer_fitted": True,
    "last_service_on": "2025-12-01",
    "last_service_hours": 22000,
    "next_service_due_on": "2026-06-01",
    "next_service_due_at_hours": 26000,
}


class UnitOnFile(BaseModel):
    """One compressor on a customer's file: what it is, and when it is next due for service."""

    model_config = ConfigDict(json_schema_extra={"examples": [UNIT_EXAMPLE]})

    equipment_id: str
    customer_id: str
    site_id: str
    model_code: str
    brand: str
    model: str
    compressor_type: CompressorType
    serial_number: str
    purchase_date: date
    warranty_end: date
    running_hours: int | None = None
    dryer_fitted: bool = False
    last_service_on: date | None = None
    last_service_hours: int | None = None
    next_service_due_on: date
    next_service_due_at_hours: int | None = None
    label_id: str | None = Field(
        default=None,
        description="The unguessable id its QR label carries (`/m/{label_id}`); given to units filed before "
        "labels existed at intake's start.",
    )

    def as_contract(self) -> Equipment:
        return Equipment(
            equipment_id=self.equipment_id,
            model_code=self.model_code,
            brand=self.brand,
            model=self.model,
            compressor_type=self.compressor_type,
            serial_number=self.serial_number,
            purchase_date=self.purchase_date,
            warranty_end=self.warranty_end,
            running_hours=self.running_hours,
            dryer_fitted=self.dryer_fitted,
        )

    def with_meter_reading(self, running_hours: int) -> UnitOnFile:
        """The unit after its hour meter was read: the meter never runs backwards."""
        if not 0 <= running_hours <= MAX_RUNNING_HOURS:
            raise invalid([FieldIssue("running_hours", f"between 0 and {MAX_RUNNING_HOURS}")])
        if running_hours < (self.running_hours or 0):
            raise invalid([FieldIssue("running_hours", "an hour meter does not run backwards")])
        return self.model_copy(update={"running_hours": running_hours})

    def maintenance_due_text(self) -> str:
        hours = self.next_service_due_at_hours
        by_hours = f" or at {hours} running hours" if hours is not None else ""
        return (
            f"Scheduled maintenance of {self.brand} {self.model} (serial {self.serial_number}) "
            f"due on {self.next_service_due_on.isoformat()}{by_hours}."
        )


class StoredReport(BaseModel):
    bucket: str
    object_key: str


HISTORY_EXAMPLE: JsonDict = {
    "history_entry_id": "HIST-JOB-2026-000042",
    "job_id": "JOB-2026-000042",
    "customer_id": "CUST-1A2B3C4D5E6F",
    "equipment_id": "EQ-5D0E8B7A1C92",
    "service_date": "2026-03-03",
    "engineer": {"engineer_id": "ENG-014", "name": "Lim Wei Jie"},
    "root_cause": "Thermostatic valve stuck open and oil cooler fouled.",
    "failure_category": "cooling",
    "repair_method": "Replaced the thermostatic valve element and oil filter, cleaned the oil cooler.",
    "parts_used": [
        {
            "part_number": "1622-3600-00",
            "description": "Thermostatic valve kit",
            "quantity": 1.0,
            "unit": "pcs",
            "in_plan": True,
            "reason": None,
        }
    ],
    "labour_hours": 5.5,
    "inspection_rounds": 2,
    "running_hours": 23436,
    "record_id": "REC-2026-000042",
    "record_version": 1,
    "report": {"bucket": "reports", "object_key": "2026/03/JOB-2026-000042/v1/report.pdf"},
    "survey_status": "answered",
    "csat": 4,
    "nps": 9,
    "follow_ups": [],
    "recorded_at": "2026-03-10T09:30:00Z",
}


class HistoryEntry(BaseModel):
    """One service of a unit, as the closed job reported it."""

    model_config = ConfigDict(json_schema_extra={"examples": [HISTORY_EXAMPLE]})

    history_entry_id: str
    job_id: str
    customer_id: str
    equipment_id: str
    service_date: date
    engineer: Engineer
    root_cause: str
    failure_category: FailureCategory
    repair_method: str
    parts_used: list[PartUsed]
    labour_hours: float
    inspection_rounds: int
    running_hours: int | None = None
    record_id: str
    record_version: int
    report: StoredReport
    survey_status: SurveyStatus
    csat: int | None = None
    nps: int | None = None
    follow_ups: list[FollowUp] = []
    recorded_at: datetime


VISIT_EXAMPLE: JsonDict = {
    "follow_up_id": "JOB-2026-000042#0",
    "source_job_id": "JOB-2026-000042",
    "customer_id": "CUST-1A2B3C4D5E6F",
    "site_id": "SITE-7F3A9C21B04D",
    "equipment_id": "EQ-5D0E8B7A1C92",
    "due_on": "2026-06-01",
    "description": "Check the oil cooler again before the dry season.",
    "job_id": None,
}


class FollowUpVisit(BaseModel):
    """A dated visit a job's review planned; the proactive scheduler raises a request once it is due."""

    model_config = ConfigDict(json_schema_extra={"examples": [VISIT_EXAMPLE]})

    follow_up_id: str
    source_job_id: str
    customer_id: str
    site_id: str
    equipment_id: str
    due_on: date
    description: str
    job_id: str | None = Field(default=None, description="The request raised for the visit, once it was due.")


# --- checks ---------------------------------------------------------------------

_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_REGION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_SERIAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/-]{0,63}")


def normalise_phone(raw: str) -> str | None:
    """E.164 from what people type ('+60 12-345 6789', '0060123456789'); None when it is not one."""
    digits = _PHONE_SEPARATORS.sub("", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    return digits if _E164.fullmatch(digits) else None


def valid_email(raw: str) -> bool:
    return len(raw) <= 254 and bool(_EMAIL.fullmatch(raw)) and ".." not in raw


def _checked_contact(
    contact: ContactDetails, at: str, unsaid: Language = Language.EN
) -> tuple[Contact | None, list[FieldIssue]]:
    issues: list[FieldIssue] = []
    where = f"{at}." if at else ""
    phone = None
    if contact.phone:
        phone = normalise_phone(contact.phone)
        if phone is None:
            issues.append(
                FieldIssue(f"{where}phone", "not a phone number in international form, e.g. '+60 12-345 6789'")
            )
    if contact.email and not valid_email(contact.email):
        issues.append(FieldIssue(f"{where}email", "not a valid e-mail address"))
    if not contact.phone and not contact.email:
        issues.append(FieldIssue(f"{where}phone", "a contact needs a phone number or an e-mail address"))
    if issues:
        return None, issues
    contact_now = Contact(
        name=contact.name,
        role=contact.role,
        phone=phone,
        email=contact.email or None,
        preferred_channel=contact.preferred_channel,
        language=contact.language or unsaid,
    )
    return contact_now, []


def checked_contact(contact: ContactDetails, at: str, unsaid: Language = Language.EN) -> Contact:
    """The contact as the file keeps it (phone in E.164), in its language or else `unsaid`; refused
    naming the field under `at` ('' for a contact sent on its own)."""
    checked, issues = _checked_contact(contact, at, unsaid)
    if checked is None:
        raise invalid(issues)
    return checked


def language_on_file(customer: CustomerOnFile, contact: ContactDetails) -> Language:
    """The preferred language of the person on file a request names (same e-mail or phone, else the same
    name), else the main contact's: a caller who does not say is read as the file knows the company."""
    phone = normalise_phone(contact.phone) if contact.phone else None
    email = contact.email.casefold() if contact.email else None
    for known in customer.contacts:
        if (email and known.email and known.email.casefold() == email) or (phone and known.phone == phone):
            return known.language
    name = contact.name.strip().casefold()
    same_name = next((known for known in customer.contacts if known.name.casefold() == name), None)
    return (same_name or customer.contacts[0]).language


def add_contact(customer: CustomerOnFile, contact: ContactDetails) -> CustomerOnFile:
    """The file with one more contact (English unless a language is given)."""
    if len(customer.contacts) >= MAX_CONTACTS:
        raise invalid([FieldIssue("contacts", f"a customer file holds at most {MAX_CONTACTS} contacts")])
    return customer.model_copy(update={"contacts": [*customer.contacts, checked_contact(contact, "")]})


def change_contact(customer: CustomerOnFile, position: int, contact: ContactDetails) -> CustomerOnFile:
    """The file with the contact at `position` (0: the main one) replaced; its language stays unless given."""
    if not 0 <= position < len(customer.contacts):
        raise Refusal.not_found(f"the customer file has no contact {position}", field="position")
    changed = checked_contact(contact, "", unsaid=customer.contacts[position].language)
    contacts = [changed if index == position else known for index, known in enumerate(customer.contacts)]
    return customer.model_copy(update={"contacts": contacts})


def _unit_issues(unit: UnitDetails, model: EquipmentModel | None, today: date, at: str = "") -> list[FieldIssue]:
    """What is wrong with a unit as described (field names prefixed with `at`)."""
    issues = []
    if model is None:
        issues.append(FieldIssue(f"{at}model_code", "unknown equipment model: not in the equipment catalogue"))
    if not _SERIAL.fullmatch(unit.serial_number):
        issues.append(FieldIssue(f"{at}serial_number", "letters, digits and ' ._/-', at most 64"))
    if unit.purchase_date > today:
        issues.append(FieldIssue(f"{at}purchase_date", "purchase date is in the future"))
    if unit.running_hours is not None and not 0 <= unit.running_hours <= MAX_RUNNING_HOURS:
        issues.append(FieldIssue(f"{at}running_hours", f"between 0 and {MAX_RUNNING_HOURS}"))
    if unit.warranty_end is not None and unit.warranty_end < unit.purchase_date:
        issues.append(FieldIssue(f"{at}warranty_end", "warranty cannot end before the purchase date"))
    if unit.last_service_on is not None:
        if unit.last_service_on > today:
            issues.append(FieldIssue(f"{at}last_service_on", "last service date is in the future"))
        elif unit.last_service_on < unit.purchase_date:
            issues.append(FieldIssue(f"{at}last_service_on", "last service cannot be before the purchase date"))
    if unit.last_service_hours is not None:
        if unit.last_service_on is None:
            issues.append(FieldIssue(f"{at}last_service_hours", "give last_service_on with the hours at that service"))
        elif not 0 <= unit.last_service_hours <= (unit.running_hours or MAX_RUNNING_HOURS):
            issues.append(FieldIssue(f"{at}last_service_hours", "cannot exceed the running hours now"))
    return issues


# --- decisions ------------------------------------------------------------------------


def open_customer(customer_id: str, name: str, contacts: list[ContactDetails], now: datetime) -> CustomerOnFile:
    """A new customer file; refused naming every contact field at fault."""
    checked, issues = [], []
    for i, contact in enumerate(contacts):
        contact_now, contact_issues = _checked_contact(contact, f"contacts[{i}]")
        issues += contact_issues
        if contact_now:
            checked.append(contact_now)
    if issues:
        raise invalid(issues)
    return CustomerOnFile(customer_id=customer_id, name=name, contacts=checked, created_at=now)


def add_site(
    site_id: str,
    customer_id: str,
    *,
    name: str,
    address: str,
    city: str,
    postal_code: str | None,
    country: str,
    region: str,
) -> SiteOnFile:
    issues = []
    if not _COUNTRY.fullmatch(country):
        issues.append(FieldIssue("country", "an ISO 3166-1 alpha-2 code in capitals, e.g. 'MY'"))
    if not _REGION.fullmatch(region):
        issues.append(FieldIssue("region", "a region code: letters, digits and '_ . : -', at most 64"))
    if issues:
        raise invalid(issues)
    return SiteOnFile(
        site_id=site_id,
        customer_id=customer_id,
        name=name,
        address=address,
        city=city,
        postal_code=postal_code,
        country=country,
        region=region,
    )


def register_unit(
    equipment_id: str,
    customer_id: str,
    site_id: str,
    unit: UnitDetails,
    *,
    site: SiteOnFile | None,
    model: EquipmentModel | None,
    today: date,
) -> UnitOnFile:
    """A unit put on the customer's file at one of its sites; refused naming every field at fault."""
    issues = []
    if site is None or site.customer_id != customer_id:
        issues.append(FieldIssue("site_id", "unknown site of this customer"))
    issues += _unit_issues(unit, model, today)
    if issues or model is None:  # an unknown model is one of the issues
        raise invalid(issues)
    return new_unit(equipment_id, customer_id, site_id, model, unit)


def described_unit(unit: UnitDetails, model: EquipmentModel | None, today: date, at: str) -> EquipmentModel:
    """The model of a unit a request describes (not on file yet); refused naming the field under `at`."""
    issues = _unit_issues(unit, model, today, at)
    if issues or model is None:  # an unknown model is one of the issues
        raise invalid(issues)
    return model


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


def new_label_id() -> str:
    """A label's id: 144 random bits (URL-safe), neither the serial nor the customer id, so nobody can
    guess a machine's page from what they know of it."""
    return secrets.token_urlsafe(18)


def new_unit(equipment_id: str, customer_id: str, site_id: str, model: EquipmentModel, unit: UnitDetails) -> UnitOnFile:
    due_on, due_hours = next_service_due(
        model,
        purchase_date=unit.purchase_date,
        last_service_on=unit.last_service_on,
        last_service_hours=unit.last_service_hours,
    )
    return UnitOnFile(
        equipment_id=equipment_id,
        customer_id=customer_id,
        site_id=site_id,
        model_code=model.model_code,
        brand=model.brand,
        model=model.model,
        compressor_type=model.compressor_type,
        serial_number=unit.serial_number,
        purchase_date=unit.purchase_date,
        warranty_end=unit.warranty_end or add_months(unit.purchase_date, model.warranty_months),
        running_hours=unit.running_hours,
        dryer_fitted=unit.dryer_fitted,
        last_service_on=unit.last_service_on,
        last_service_hours=unit.last_service_hours,
        next_service_due_on=due_on,
        next_service_due_at_hours=due_hours,
        label_id=new_label_id(),
    )


# --- the closed job in the equipment's history ------------------------------------


def history_entry_id(job_id: str) -> str:
    """One history entry per job: the natural key that keeps a redelivered job.closed from adding two."""
    return f"HIST-{job_id}"[:64]


def history_entry(closed: JobClosed, recorded_at: datetime) -> HistoryEntry:
    outcome = closed.outcome
    return HistoryEntry(
        history_entry_id=history_entry_id(closed.job_id),
        job_id=closed.job_id,
        customer_id=outcome.customer_id,
        equipment_id=outcome.equipment_id,
        service_date=outcome.service_date,
        engineer=outcome.engineer,
        root_cause=outcome.root_cause,
        failure_category=outcome.failure_category,
        repair_method=outcome.repair_method,
        parts_used=outcome.parts_used,
        labour_hours=outcome.labour_hours,
        inspection_rounds=outcome.inspection_rounds,
        running_hours=outcome.running_hours,
        record_id=closed.record_id,
        record_version=closed.record_version,
        report=StoredReport(bucket=closed.report.bucket, object_key=closed.report.object_key),
        survey_status=closed.survey_status,
        csat=closed.csat,
        nps=closed.nps,
        follow_ups=closed.follow_ups,
        recorded_at=recorded_at,
    )


def after_service(unit: UnitOnFile, model: EquipmentModel, closed: JobClosed) -> UnitOnFile:
    """The unit once the service is recorded. A service older than the one on file (an out-of-order
    close) goes into the history but does not move the last service back."""
    outcome = closed.outcome
    hours = unit.running_hours
    if outcome.running_hours is not None:
        hours = max(hours or 0, outcome.running_hours)
    after = unit.model_copy(update={"running_hours": hours})
    if unit.last_service_on is None or outcome.service_date >= unit.last_service_on:
        due_on, due_hours = next_service_due(
            model,
            purchase_date=unit.purchase_date,
            last_service_on=outcome.service_date,
            last_service_hours=outcome.running_hours,
        )
        after = after.model_copy(
            update={
                "last_service_on": outcome.service_date,
                "last_service_hours": outcome.running_hours,
                "next_service_due_on": due_on,
                "next_service_due_at_hours": due_hours,
            }
        )
    return after


def follow_up_visits(closed: JobClosed, site_id: str) -> list[FollowUpVisit]:
    """The dated proactive visits the review decided on; the proactive scheduler raises each once
    it is due. Keyed by job and position, so a redelivered close plans nothing twice."""
    outcome = closed.outcome
    return [
        FollowUpVisit(
            follow_up_id=f"{closed.job_id}#{position}",
            source_job_id=closed.job_id,
            customer_id=outcome.customer_id,
            site_id=site_id,
            equipment_id=outcome.equipment_id,
            due_on=follow_up.due_on,
            description=follow_up.description,
        )
        for position, follow_up in enumerate(closed.follow_ups)
        if follow_up.kind is FollowUpKind.PROACTIVE_VISIT and follow_up.due_on is not None
    ]


@dataclass(frozen=True)
class ServiceFiled:
    """What a closed job changes in the customer file, and the event that says so."""

    unit: UnitOnFile
    entry: HistoryEntry
    visits: list[FollowUpVisit]
    updated: CustomerFileUpdated


def file_service(unit: UnitOnFile, model: EquipmentModel, closed: JobClosed, now: datetime) -> ServiceFiled:
    """The service of a closed job in its unit's history: the last and next service move on, the
    review's dated visits are planned, and customer_file.updated tells the others."""
    entry = history_entry(closed, now)
    after = after_service(unit, model, closed)
    updated = CustomerFileUpdated(
        job_id=closed.job_id,
        customer_id=unit.customer_id,
        equipment_id=unit.equipment_id,
        history_entry_id=entry.history_entry_id,
        last_service_on=after.last_service_on or closed.outcome.service_date,  # this service or a later one
        running_hours=after.running_hours,
        next_service_due_on=after.next_service_due_on,
        next_service_due_at_hours=after.next_service_due_at_hours,
    )
    return ServiceFiled(after, entry, follow_up_visits(closed, unit.site_id), updated)
