"""HTTP API of call-back records: one that reports a problem raises a request (job.requested)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from pymongo.errors import DuplicateKeyError

from compressor_kit.auth import principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from intake_service.actors import FRONT_DESK, STAFF, staff_member
from intake_service.callbacks import domain
from intake_service.callbacks.domain import CallbackIn, CallbackOutcome
from intake_service.callbacks.store import CALLBACKS
from intake_service.ids import new_id
from intake_service.requests.api import IdempotencyKey
from intake_service.requests.domain import job_view
from intake_service.requests.recording import prepare_job
from intake_service.requests.store import JOBS


async def _view(runtime: Runtime, callback: dict[str, Any]) -> dict[str, Any]:
    view = {"callback_id": callback["_id"], **{k: v for k, v in callback.items() if k not in ("_id",)}}
    view.pop("idempotency_key", None)
    view.pop("request_fingerprint", None)
    job = await runtime.db[JOBS].find_one({"_id": callback["job_id"]}) if callback.get("job_id") else None
    view["job"] = job_view(job, runtime.clock.now()) if job else None
    return view


async def _replay(runtime: Runtime, callback: dict[str, Any], request_fingerprint: str) -> Response:
    if callback.get("request_fingerprint") != request_fingerprint:
        raise Problem(422, "this Idempotency-Key was used for a different call-back", field="Idempotency-Key")
    return Response(await _view(runtime, callback), status_code=200, headers={"Idempotent-Replayed": "true"})


@post("/callbacks", **requires(*FRONT_DESK), operation_id="recordCallback")
async def record_callback(
    request: Request,
    runtime: NamedDependency[Runtime],
    data: JSONBody[CallbackIn],
    idempotency_key: IdempotencyKey = None,
) -> Response[dict[str, Any]]:
    """Record a return-visit call; when the customer reports a problem, the request it raises
    (channel callback) is recorded with it and job.requested published. 201; 200 on a repeated key."""
    principal = principal_of(request)
    scoped_key = f"{principal.subject}|{idempotency_key}" if idempotency_key else None
    request_fingerprint = domain.fingerprint(data)
    callbacks = runtime.db[CALLBACKS]
    if scoped_key and (earlier := await callbacks.find_one({"idempotency_key": scoped_key})):
        return await _replay(runtime, earlier, request_fingerprint)
    callback_id = new_id("CB")
    # A satisfied call raises nothing, but its customer, site, unit and contact are checked alike.
    prepared = await prepare_job(runtime, principal, domain.as_request(callback_id, data))
    raises_job = data.outcome is CallbackOutcome.PROBLEM_REPORTED
    recorded_by = staff_member(principal)
    callback = {
        "_id": callback_id,
        **data.model_dump(mode="json", exclude={"contact", "priority"}),
        "contact": prepared.data.contact.model_dump(mode="json"),
        "recorded_by": recorded_by.model_dump(mode="json") if recorded_by else None,
        "recorded_at": runtime.clock.now(),
        "job_id": prepared.data.job_id if raises_job else None,
        "request_fingerprint": request_fingerprint,
        **({"idempotency_key": scoped_key} if scoped_key else {}),
    }

    async def record(uow) -> None:
        await uow.db[CALLBACKS].insert_one(callback, session=uow.session)
        if raises_job:
            await prepared.record(uow)

    try:
        await runtime.outbox.transact(record)
    except DuplicateKeyError:
        if scoped_key and (earlier := await callbacks.find_one({"idempotency_key": scoped_key})):
            return await _replay(runtime, earlier, request_fingerprint)
        raise
    return Response(await _view(runtime, callback), status_code=201)


@get("/callbacks", **requires(*STAFF), operation_id="listCallbacks")
async def list_callbacks(
    runtime: NamedDependency[Runtime],
    customer_id: FromQuery[str | None] = None,
    outcome: FromQuery[CallbackOutcome | None] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[dict[str, Any]]:
    """Call-back records, newest first."""
    query = {k: str(v) for k, v in (("customer_id", customer_id), ("outcome", outcome)) if v is not None}
    found = (
        await runtime.db[CALLBACKS]
        .find(query)
        .sort([("recorded_at", -1), ("_id", 1)])
        .skip(offset)
        .limit(limit)
        .to_list()
    )
    return Page(
        items=[await _view(runtime, c) for c in found],
        total=await runtime.db[CALLBACKS].count_documents(query),
        limit=limit,
        offset=offset,
    )


ROUTES = [record_callback, list_callbacks]
