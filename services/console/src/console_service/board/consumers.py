"""Every job event, once, into the job's board row and its customer's portal document (the inbox makes a
redelivery change nothing)."""

from __future__ import annotations

from typing import Any

from compressor_contracts import CATALOGUE, CloudEvent
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from console_service.board import domain, store
from console_service.management import store as management
from console_service.portal import domain as portal
from console_service.portal import store as portal_store
from console_service.settings import ConsoleRuntime


async def take_event(event: CloudEvent[Any], uow: UnitOfWork) -> None:
    row = await store.row_in(uow, event.subject)
    await store.save_row(uow, domain.board_row(row, event))
    await management.record_alert(uow, event)  # new request, SLA risk, escalation, low score
    # What the customer may see of it, for their portal.
    await portal_store.save_job(uow, portal.portal_job(await portal_store.job_in(uow, event.subject), event))


def consumers(runtime: ConsoleRuntime) -> list[Consumer]:
    spec = runtime.topology.queue("job-board")
    handled = {cls: take_event for key, cls in CATALOGUE.items() if spec.receives(key)}
    return [Consumer(spec.name, handled)]
