"""HTTP API of the customer file: customers, their sites and equipment, and the whole file at once."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import NotificationChannel, StaffRole
from compressor_contracts.common import Language
from compressor_kit.auth import CUSTOMER, STAFF, principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.refusals import Refusal
from intake_service.actors import ALL_PEOPLE, FRONT_DESK, CallerRequest, ensure_may_see_customer
from intake_service.customer_file import commands
from intake_service.customer_file import store as file_store
from intake_service.customer_file.domain import (
    CUSTOMER_EXAMPLE,
    HISTORY_EXAMPLE,
    SITE_EXAMPLE,
    UNIT_EXAMPLE,
    VISIT_EXAMPLE,
    ContactDetails,
    CustomerOnFile,
    FollowUpVisit,
    HistoryEntry,
    SiteOnFile,
    UnitDetails,
    UnitOnFile,
)
from intake_service.requests import store as jobs
from intake_service.requests.views import JOB_EXAMPLE, JobView, job_view
from intake_service.settings import IntakeRuntime

TAGS = ["Customer file"]

WIDE = 10**12
"""Bounds of every integer input: within MongoDB's 64 bits; the domain's rules give the real ranges."""


# --- what callers send ------------------------------------------------------------------


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ContactIn(_Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Aminah binti Rahman",
                    "role": "Plant maintenance lead",
                    "phone": "+60 12-345 6789",
                    "email": "aminah.rahman@serimurni.example",
                    "language": "ms",
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200, description="Full name of the contact person.")
    role: str | None = Field(default=None, min_length=1, max_length=200, description="Job title.")
    phone: str | None = Field(
        default=None, max_length=40, description="International number, e.g. '+60 12-345 6789' (stored as E.164)."
    )
    email: str | None = Field(default=None, max_length=254, description="E-mail address.")
    preferred_channel: NotificationChannel = Field(default=NotificationChannel.EMAIL)
    language: Language | None = Field(
        default=None,
        description="Preferred language for e-mails, the portal, the survey and the report: 'ms' (Bahasa Melayu) "
        "or 'en' (English). When not given: English for a new contact, unchanged for a changed one, and for "
        "a request's caller the language of that person on file (else the main contact's).",
    )

    def details(self) -> ContactDetails:
        return ContactDetails(
            name=self.name,
            role=self.role,
            phone=self.phone,
            email=self.email,
            preferred_channel=self.preferred_channel,
            language=self.language,
        )


class CustomerIn(_Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Seri Murni Foods Sdn Bhd",
                    "contacts": [
                        {
                            "name": "Aminah binti Rahman",
                            "role": "Plant maintenance lead",
                            "phone": "+60 12-345 6789",
                            "email": "aminah.rahman@serimurni.example",
                            "language": "ms",
                        }
                    ],
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200, description="Customer organisation name.")
    contacts: list[ContactIn] = Field(min_length=1, max_length=20, description="The first is the main contact.")


class SiteIn(_Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Shah Alam plant 2",
                    "address": "Lot 12, Jalan Perusahaan 4, Seksyen 15",
                    "city": "Shah Alam",
                    "postal_code": "40200",
                    "country": "MY",
                    "region": "central",
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=2000, description="Street address, one line.")
    city: str = Field(min_length=1, max_length=200)
    postal_code: str | None = Field(default=None, min_length=1, max_length=200)
    country: str = Field(max_length=64, description="ISO 3166-1 alpha-2, e.g. 'MY'.")
    region: str = Field(max_length=64, description="Service region code used for engineer matching, e.g. 'central'.")


class EquipmentIn(_Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "site_id": "SITE-7F3A9C21B04D",
                    "model_code": "AC-GA37VSD",
                    "serial_number": "API123456",
                    "purchase_date": "2021-06-14",
                    "running_hours": 23410,
                    "last_service_on": "2025-12-01",
                    "last_service_hours": 22000,
                    "dryer_fitted": True,
                }
            ]
        }
    )

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

    def details(self) -> UnitDetails:
        return UnitDetails(**self.model_dump(exclude={"site_id"}))


class MeterReadingIn(_Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"running_hours": 23650}]})

    running_hours: int = Field(ge=-WIDE, le=WIDE, description="Hour-meter reading now.")


# --- what the API answers -------------------------------------------------------------------


class UnitWithHistory(UnitOnFile):
    """One unit with its service history, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**UNIT_EXAMPLE, "history": [HISTORY_EXAMPLE]}]})

    history: list[HistoryEntry]


class UnitInFile(UnitWithHistory):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**UNIT_EXAMPLE, "history": [HISTORY_EXAMPLE], "follow_up_visits": [VISIT_EXAMPLE]}]
        }
    )

    follow_up_visits: list[FollowUpVisit]


class SiteInFile(SiteOnFile):
    equipment: list[UnitInFile]


class CustomerFile(CustomerOnFile):
    """A customer's whole file."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **CUSTOMER_EXAMPLE,
                    "sites": [
                        {
                            **SITE_EXAMPLE,
                            "equipment": [
                                {**UNIT_EXAMPLE, "history": [HISTORY_EXAMPLE], "follow_up_visits": [VISIT_EXAMPLE]}
                            ],
                        }
                    ],
                    "open_jobs": [JOB_EXAMPLE],
                }
            ]
        }
    )

    sites: list[SiteInFile]
    open_jobs: list[JobView]


async def _customer(runtime: IntakeRuntime, request: CallerRequest, customer_id: str) -> CustomerOnFile:
    ensure_may_see_customer(principal_of(request), customer_id)
    customer = await file_store.load_customer(runtime, customer_id)
    if customer is None:
        raise Refusal.not_found("unknown customer", field="customer_id")
    return customer


async def _unit(runtime: IntakeRuntime, request: CallerRequest, equipment_id: str) -> UnitOnFile:
    unit = await file_store.load_unit(runtime, equipment_id)
    if unit is None:
        raise Refusal.not_found("unknown equipment", field="equipment_id")
    ensure_may_see_customer(principal_of(request), unit.customer_id)
    return unit


# --- customers ------------------------------------------------------------------


@post("/customers", **requires(*FRONT_DESK), operation_id="createCustomer", tags=TAGS)
async def create_customer(runtime: NamedDependency[IntakeRuntime], data: JSONBody[CustomerIn]) -> CustomerOnFile:
    """Open a customer file; the first contact is the main one. 201 with the customer."""
    return await commands.open_customer(runtime, data.name, [c.details() for c in data.contacts])


@get("/customers", **requires(*STAFF), operation_id="listCustomers", tags=TAGS)
async def list_customers(
    runtime: NamedDependency[IntakeRuntime],
    name: Annotated[str | None, Parameter(max_length=200, description="Part of the name, any case.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[CustomerOnFile]:
    items, total = await file_store.customers_named(runtime, name, limit, offset)
    return Page(items=items, total=total, limit=limit, offset=offset)


@get("/customers/{customer_id:str}", **requires(*ALL_PEOPLE), operation_id="getCustomer", tags=TAGS)
async def get_customer(
    request: CallerRequest, runtime: NamedDependency[IntakeRuntime], customer_id: FromPath[str]
) -> CustomerOnFile:
    return await _customer(runtime, request, customer_id)


# --- contacts ------------------------------------------------------------------------


@post("/customers/{customer_id:str}/contacts", **requires(CUSTOMER, *FRONT_DESK), operation_id="addContact", tags=TAGS)
async def add_contact(
    request: CallerRequest,
    runtime: NamedDependency[IntakeRuntime],
    customer_id: FromPath[str],
    data: JSONBody[ContactIn],
) -> CustomerOnFile:
    """Add a contact person to the customer's file (a customer to its own). 201 with the customer."""
    customer = await _customer(runtime, request, customer_id)
    return await commands.add_contact(runtime, customer, data.details())


@put(
    "/customers/{customer_id:str}/contacts/{position:int}",
    **requires(CUSTOMER, *FRONT_DESK),
    operation_id="changeContact",
    tags=TAGS,
)
async def change_contact(
    request: CallerRequest,
    runtime: NamedDependency[IntakeRuntime],
    customer_id: FromPath[str],
    position: Annotated[int, Parameter(ge=0, le=1000, description="The contact's place in the file; 0: the main one.")],
    data: JSONBody[ContactIn],
) -> CustomerOnFile:
    """Replace a contact's details, e.g. their preferred language (kept when not given). 200 with the customer."""
    customer = await _customer(runtime, request, customer_id)
    return await commands.change_contact(runtime, customer, position, data.details())


# --- sites --------------------------------------------------------------------------


@post("/customers/{customer_id:str}/sites", **requires(*FRONT_DESK), operation_id="createSite", tags=TAGS)
async def create_site(
    request: CallerRequest, runtime: NamedDependency[IntakeRuntime], customer_id: FromPath[str], data: JSONBody[SiteIn]
) -> SiteOnFile:
    await _customer(runtime, request, customer_id)
    return await commands.add_site(runtime, customer_id, **data.model_dump())


@get("/customers/{customer_id:str}/sites", **requires(*ALL_PEOPLE), operation_id="listSites", tags=TAGS)
async def list_sites(
    request: CallerRequest,
    runtime: NamedDependency[IntakeRuntime],
    customer_id: FromPath[str],
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[SiteOnFile]:
    await _customer(runtime, request, customer_id)
    items, total = await file_store.sites_of(runtime, customer_id, limit, offset)
    return Page(items=items, total=total, limit=limit, offset=offset)


# --- equipment ------------------------------------------------------------------------


@post("/customers/{customer_id:str}/equipment", **requires(*FRONT_DESK), operation_id="registerEquipment", tags=TAGS)
async def register_equipment(
    request: CallerRequest,
    runtime: NamedDependency[IntakeRuntime],
    customer_id: FromPath[str],
    data: JSONBody[EquipmentIn],
) -> UnitOnFile:
    """Put a compressor on the customer's file at one of its sites; the next service due follows
    from the model's interval."""
    await _customer(runtime, request, customer_id)
    return await commands.register_unit(runtime, customer_id, data.site_id, data.details())


@get("/equipment", **requires(*STAFF), operation_id="listEquipment", tags=TAGS)
async def list_equipment(
    runtime: NamedDependency[IntakeRuntime],
    customer_id: FromQuery[str | None] = None,
    site_id: FromQuery[str | None] = None,
    model_code: FromQuery[str | None] = None,
    due_before: Annotated[date | None, Parameter(description="Next service due on or before this date.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[UnitOnFile]:
    items, total = await file_store.units(
        runtime,
        customer_id=customer_id,
        site_id=site_id,
        model_code=model_code,
        due_before=due_before,
        limit=limit,
        offset=offset,
    )
    return Page(items=items, total=total, limit=limit, offset=offset)


@get("/equipment/{equipment_id:str}", **requires(*ALL_PEOPLE), operation_id="getEquipment", tags=TAGS)
async def get_equipment(
    request: CallerRequest, runtime: NamedDependency[IntakeRuntime], equipment_id: FromPath[str]
) -> UnitWithHistory:
    """One unit with its service history, newest first."""
    unit = await _unit(runtime, request, equipment_id)
    history = await file_store.history_of_unit(runtime, equipment_id)
    return UnitWithHistory(**unit.model_dump(), history=history)


@post(
    "/equipment/{equipment_id:str}/meter-readings",
    **requires(CUSTOMER, StaffRole.ENGINEER, *FRONT_DESK),
    operation_id="recordMeterReading",
    tags=TAGS,
    status_code=200,
)
async def record_meter_reading(
    request: CallerRequest,
    runtime: NamedDependency[IntakeRuntime],
    equipment_id: FromPath[str],
    data: JSONBody[MeterReadingIn],
) -> UnitOnFile:
    """Record the hour meter; the proactive scheduler raises a request once the hours are due."""
    unit = await _unit(runtime, request, equipment_id)
    return await commands.record_meter_reading(runtime, unit, data.running_hours)


# --- the whole file -----------------------------------------------------------------


@get("/customers/{customer_id:str}/file", **requires(*ALL_PEOPLE), operation_id="getCustomerFile", tags=TAGS)
async def get_customer_file(
    request: CallerRequest, runtime: NamedDependency[IntakeRuntime], customer_id: FromPath[str]
) -> CustomerFile:
    """A customer's whole file: sites with their equipment, each unit's service history and planned
    follow-up visits, and the customer's open jobs."""
    customer = await _customer(runtime, request, customer_id)
    sites, units, history, visits = await file_store.whole_file(runtime, customer_id)
    open_jobs = await jobs.open_jobs_of(runtime, customer_id)
    history_by_unit: dict[str, list[HistoryEntry]] = {}
    for entry in history:
        history_by_unit.setdefault(entry.equipment_id, []).append(entry)
    visits_by_unit: dict[str, list[FollowUpVisit]] = {}
    for visit in visits:
        visits_by_unit.setdefault(visit.equipment_id, []).append(visit)
    units_by_site: dict[str, list[UnitInFile]] = {}
    for unit in units:
        units_by_site.setdefault(unit.site_id, []).append(
            UnitInFile(
                **unit.model_dump(),
                history=history_by_unit.get(unit.equipment_id, []),
                follow_up_visits=visits_by_unit.get(unit.equipment_id, []),
            )
        )
    now = runtime.clock.now()
    return CustomerFile(
        **customer.model_dump(),
        sites=[SiteInFile(**site.model_dump(), equipment=units_by_site.get(site.site_id, [])) for site in sites],
        open_jobs=[job_view(job, now) for job in open_jobs],
    )


ROUTES = [
    create_customer,
    list_customers,
    get_customer,
    add_contact,
    change_contact,
    create_site,
    list_sites,
    register_equipment,
    list_equipment,
    get_equipment,
    record_meter_reading,
    get_customer_file,
]
