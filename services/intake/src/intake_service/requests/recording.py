"""Recording a request: look the customer, site and unit up in the customer file, check them, and
build the job and its job.requested. Shared by the request API and the call-back records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compressor_contracts import Contact, JobRequested
from compressor_kit.auth import Principal
from compressor_kit.outbox import UnitOfWork
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from intake_service.actors import staff_member
from intake_service.catalogue.store import catalogue
from intake_service.customer_file import domain as file_domain
from intake_service.customer_file.store import CUSTOMERS, EQUIPMENT, SITES, find_one
from intake_service.ids import new_id
from intake_service.requests import domain
from intake_service.requests.domain import RequestIn
from intake_service.requests.store import JOBS
from intake_service.validation import FieldError, refuse_if_any

Doc = dict[str, Any]


@dataclass(frozen=True)
class PreparedJob:
    data: JobRequested
    job: Doc
    new_unit: Doc | None
    """A unit the request described that is not on file yet: registered with the job."""

    async def record(self, uow: UnitOfWork) -> None:
        """The job, its new unit and its job.requested, in the caller's transaction."""
        if self.new_unit is not None:
            await uow.db[EQUIPMENT].insert_one(self.new_unit, session=uow.session)
        await uow.db[JOBS].insert_one(self.job, session=uow.session)
        await uow.publish(self.data)


async def prepare_job(runtime: Runtime, principal: Principal, data: RequestIn, **job_fields: Any) -> PreparedJob:
    """Validate the request against the customer file (422 naming the field) and build the job.
    Writes nothing."""
    db = runtime.db
    customer = await find_one(db, CUSTOMERS, data.customer_id)
    if customer is None:
        refuse_if_any([FieldError("customer_id", "unknown customer")])
    site = await find_one(db, SITES, data.site_id)
    if site is None or site["customer_id"] != data.customer_id:
        refuse_if_any([FieldError("site_id", "unknown site of this customer")])
    today = runtime.clock.now().date()
    new_unit = None
    if data.equipment_id is not None:
        equipment = await find_one(db, EQUIPMENT, data.equipment_id)
        if equipment is None or equipment["customer_id"] != data.customer_id:
            refuse_if_any([FieldError("equipment_id", "unknown equipment of this customer")])
        if equipment["site_id"] != data.site_id:
            refuse_if_any([FieldError("site_id", "the equipment is not installed at this site")])
    else:
        unit = data.equipment
        model = catalogue().get(unit.model_code)
        refuse_if_any(
            file_domain.check_equipment_facts(
                model=model,
                serial_number=unit.serial_number,
                purchase_date=unit.purchase_date,
                running_hours=unit.running_hours,
                today=today,
                at="equipment.",
            )
        )
        equipment = await db[EQUIPMENT].find_one({"brand": model.brand, "serial_number": unit.serial_number})
        if equipment is not None:
            if equipment["customer_id"] != data.customer_id or equipment["site_id"] != data.site_id:
                raise Problem(
                    409, "a unit with this serial number is on file elsewhere", field="equipment.serial_number"
                )
            if equipment["model_code"] != model.model_code:
                refuse_if_any(
                    [FieldError("equipment.model_code", "the unit on file with this serial is another model")]
                )
        else:
            equipment = new_unit = file_domain.new_equipment_document(
                new_id("EQ"),
                data.customer_id,
                data.site_id,
                model,
                serial_number=unit.serial_number,
                purchase_date=unit.purchase_date,
                running_hours=unit.running_hours,
            )
    if data.contact is not None:
        contact, errors = file_domain.check_contact(data.contact, "contact")
        refuse_if_any(errors)
    else:
        contact = Contact(**customer["contacts"][0])

    channel = data.channel
    event_data = domain.job_requested(
        job_id=new_id("JOB"),
        channel=channel,
        priority=data.priority or domain.default_priority(channel),
        customer=customer,
        contact=contact,
        site=site,
        equipment=equipment,
        fault_description=data.fault_description or domain.maintenance_due_text(equipment),
        origin_reference=data.origin_reference,
        recorded_by=staff_member(principal),
    )
    job = domain.new_job(
        event_data,
        requested_at=runtime.clock.now(),
        **job_fields,
    )
    return PreparedJob(event_data, job, new_unit)
