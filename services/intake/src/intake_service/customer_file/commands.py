"""Commands on the customer file: each loads what it needs, lets the domain decide, and stores the
result (with its events, in one transaction, where it publishes any)."""

from __future__ import annotations

import logging

from pymongo.errors import DuplicateKeyError

from compressor_contracts import CloudEvent, JobClosed
from compressor_kit.delivery import PermanentFailure
from compressor_kit.outbox import UnitOfWork
from compressor_kit.refusals import Refusal
from intake_service.catalogue.store import CATALOGUE
from intake_service.customer_file import domain
from intake_service.customer_file import store as file_store
from intake_service.customer_file.domain import ContactDetails, CustomerOnFile, SiteOnFile, UnitDetails, UnitOnFile
from intake_service.ids import new_id
from intake_service.requests import store as jobs
from intake_service.settings import IntakeRuntime

log = logging.getLogger(__name__)


async def open_customer(runtime: IntakeRuntime, name: str, contacts: list[ContactDetails]) -> CustomerOnFile:
    customer = domain.open_customer(new_id("CUST"), name, contacts, runtime.clock.now())
    await file_store.insert_customer(runtime, customer)
    return customer


async def add_contact(runtime: IntakeRuntime, customer: CustomerOnFile, contact: ContactDetails) -> CustomerOnFile:
    return await _save_contacts(runtime, customer, domain.add_contact(customer, contact))


async def change_contact(
    runtime: IntakeRuntime, customer: CustomerOnFile, position: int, contact: ContactDetails
) -> CustomerOnFile:
    return await _save_contacts(runtime, customer, domain.change_contact(customer, position, contact))


async def _save_contacts(runtime: IntakeRuntime, before: CustomerOnFile, after: CustomerOnFile) -> CustomerOnFile:
    stored = await file_store.save_contacts(runtime, before, after)
    if stored is None:
        raise Refusal.conflict("the customer's contacts changed meanwhile: reload the file", field="contacts")
    return stored


async def add_site(
    runtime: IntakeRuntime,
    customer_id: str,
    *,
    name: str,
    address: str,
    city: str,
    postal_code: str | None,
    country: str,
    region: str,
) -> SiteOnFile:
    site = domain.add_site(
        new_id("SITE"),
        customer_id,
        name=name,
        address=address,
        city=city,
        postal_code=postal_code,
        country=country,
        region=region,
    )
    await file_store.insert_site(runtime, site)
    return site


async def register_unit(runtime: IntakeRuntime, customer_id: str, site_id: str, details: UnitDetails) -> UnitOnFile:
    model = CATALOGUE.get(details.model_code)
    unit = domain.register_unit(
        new_id("EQ"),
        customer_id,
        site_id,
        details,
        site=await file_store.load_site(runtime, site_id),
        model=model,
        today=runtime.clock.now().date(),
    )
    try:
        await file_store.insert_unit(runtime, unit)
    except DuplicateKeyError:
        raise Refusal.conflict(
            f"a {unit.brand} unit with this serial number is on file", field="serial_number"
        ) from None
    return unit


async def record_meter_reading(runtime: IntakeRuntime, unit: UnitOnFile, running_hours: int) -> UnitOnFile:
    stored = await file_store.save_meter_reading(runtime, unit.with_meter_reading(running_hours))
    if stored is None:  # conditional: a concurrent higher reading is never overwritten by a lower one
        raise Refusal.conflict("a higher reading was recorded meanwhile", field="running_hours")
    return stored


async def file_closed_job(runtime: IntakeRuntime, event: CloudEvent[JobClosed], uow: UnitOfWork) -> None:
    """The service goes into the unit's history, the last and next service move on, the review's
    dated visits are planned and the job is no longer open; customer_file.updated tells the others."""
    closed = event.data
    outcome = closed.outcome
    await jobs.close_job(uow, closed.job_id, event.time)
    # The inbox stops a redelivery; the one-entry-per-job key also stops a re-sent close (new event id).
    if await file_store.is_in_history(uow, closed.job_id):
        log.info("job %s is already in the service history", closed.job_id)
        return
    unit = await file_store.load_unit(uow, outcome.equipment_id)
    if unit is None or unit.customer_id != outcome.customer_id:
        raise PermanentFailure(
            f"equipment {outcome.equipment_id} of customer {outcome.customer_id} is not in the customer file"
        )
    model = CATALOGUE.get(unit.model_code)
    if model is None:
        raise PermanentFailure(f"model {unit.model_code} is no longer in the equipment catalogue")
    filed = domain.file_service(unit, model, closed, runtime.clock.now())
    await file_store.insert_history_entry(uow, filed.entry)
    await file_store.insert_follow_up_visits(uow, filed.visits)
    await file_store.save_unit(uow, filed.unit)
    await uow.publish(filed.updated, cause=event)
