"""Recording a call-back: the record, and the request it raises when it reports a problem, in one
transaction, once per Idempotency-Key."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.errors import DuplicateKeyError

from compressor_kit.auth import Principal
from compressor_kit.outbox import UnitOfWork
from compressor_kit.refusals import Refusal
from intake_service.actors import staff_member
from intake_service.callbacks import domain
from intake_service.callbacks import store as callbacks
from intake_service.callbacks.domain import Callback, CallbackDetails
from intake_service.ids import new_id
from intake_service.requests.recording import prepare_job
from intake_service.settings import IntakeRuntime


@dataclass(frozen=True)
class RecordedCallback:
    callback: Callback
    replayed: bool
    """True when an earlier call with the same Idempotency-Key recorded it."""


def _replay(callback: Callback, request_fingerprint: str) -> RecordedCallback:
    if callback.request_fingerprint != request_fingerprint:
        raise Refusal.invalid("this Idempotency-Key was used for a different call-back", field="Idempotency-Key")
    return RecordedCallback(callback, replayed=True)


async def record_callback(
    runtime: IntakeRuntime,
    principal: Principal,
    call: CallbackDetails,
    *,
    idempotency_key: str | None,
    request_fingerprint: str,
) -> RecordedCallback:
    """Record the call; when the customer reports a problem, the request it raises is recorded with
    it and job.requested published."""
    scoped_key = f"{principal.subject}|{idempotency_key}" if idempotency_key else None
    if scoped_key and (earlier := await callbacks.callback_with_idempotency_key(runtime, scoped_key)):
        return _replay(earlier, request_fingerprint)
    callback_id = new_id("CB")
    recorded_by = staff_member(principal)
    prepared = await prepare_job(runtime, domain.as_request(callback_id, call), recorded_by)
    callback = domain.new_callback(
        callback_id,
        call,
        prepared.job,
        recorded_by=recorded_by,
        recorded_at=runtime.clock.now(),
        idempotency_key=scoped_key,
        request_fingerprint=request_fingerprint,
    )

    async def record(uow: UnitOfWork) -> None:
        await callbacks.insert_callback(uow, callback)
        if callback.job_id is not None:
            await prepared.record(uow)

    try:
        await runtime.outbox.transact(record)
    except DuplicateKeyError:
        if scoped_key and (earlier := await callbacks.callback_with_idempotency_key(runtime, scoped_key)):
            return _replay(earlier, request_fingerprint)
        raise
    return RecordedCallback(callback, replayed=False)
