"""Event handlers: a machine's controller says a service comes due, or raised an alarm -> one request.

Exactly once per due point or alarm episode, with replicas and redeliveries: the request is inserted
under its unique `proactive_period` in the same transaction as its job.requested (the key the calendar
scheduler uses too), and a second delivery finds it taken.
"""

from __future__ import annotations

import logging

from compressor_contracts import CloudEvent, Priority
from compressor_contracts.events.telemetry import EquipmentAlarmRaised, EquipmentServiceCameDue, ReadingSummary
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from intake_service.customer_file import store as file_store
from intake_service.ids import new_id
from intake_service.machine_requests import domain
from intake_service.requests import store as jobs
from intake_service.requests.domain import proactive_job
from intake_service.settings import IntakeRuntime

log = logging.getLogger(__name__)

QUEUE = "intake.telemetry"


def consumers(runtime: IntakeRuntime) -> list[Consumer]:
    async def on_service_due(event: CloudEvent[EquipmentServiceCameDue], uow: UnitOfWork) -> None:
        due = event.data
        today = runtime.clock.now().date()
        await _raise(
            runtime,
            uow,
            due.equipment_id,
            domain.service_due_period(due),
            domain.service_due_text(due),
            domain.service_due_priority(due, today),
            due.recent_readings,
        )

    async def on_alarm(event: CloudEvent[EquipmentAlarmRaised], uow: UnitOfWork) -> None:
        alarm = event.data
        await _raise(
            runtime,
            uow,
            alarm.equipment_id,
            domain.alarm_period(alarm),
            domain.alarm_text(alarm),
            domain.alarm_priority(alarm),
            alarm.recent_readings,
        )

    return [Consumer(QUEUE, {EquipmentServiceCameDue: on_service_due, EquipmentAlarmRaised: on_alarm})]


async def _raise(
    runtime: IntakeRuntime,
    uow: UnitOfWork,
    equipment_id: str,
    period: str,
    fault: str,
    priority: Priority,
    readings: list[ReadingSummary],
) -> None:
    if await jobs.period_taken(uow, period):
        log.info("%s already has its request", period)
        return
    unit = await file_store.load_unit(uow, equipment_id)
    if unit is None:
        log.warning("telemetry names equipment %s, which is not on file: no request", equipment_id)
        return
    customer = await file_store.load_customer(uow, unit.customer_id)
    site = await file_store.load_site(uow, unit.site_id)
    if customer is None or site is None:
        log.warning("equipment %s has no customer or site on file: no request", equipment_id)
        return
    job = proactive_job(
        new_id("JOB"),
        unit,
        customer,
        site,
        period=period,
        fault_description=fault,
        priority=priority,
        now=runtime.clock.now(),
    )
    job = job.model_copy(update={"requested": job.requested.model_copy(update={"machine_readings": readings})})
    await jobs.insert_job(uow, job)
    await uow.publish(job.requested)
    log.info("%s raised %s (%s)", period, job.job_id, priority)
