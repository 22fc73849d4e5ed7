"""Events about a machine rather than a job (telemetry's equipment.went_silent): a notice to management,
stored at once (there is no job to wait for) and delivered like every other notification."""

from __future__ import annotations

from typing import Any

from compressor_contracts import CloudEvent
from compressor_kit.outbox import UnitOfWork
from feedback_service.notifications.domain import NOTICES
from feedback_service.notifications.store import enqueue
from feedback_service.settings import FeedbackRuntime


async def machine_event(runtime: FeedbackRuntime, uow: UnitOfWork, event: CloudEvent[Any]) -> None:
    await enqueue(
        uow,
        job=None,
        event=event,
        notice=NOTICES[type(event.data)],
        now=runtime.clock.now(),
        management_recipients=runtime.settings.management_recipients(),
    )
