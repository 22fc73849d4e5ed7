"""HTTP API of service requests: record one from any channel, the management view, cancellation."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, Parameter
from pymongo.errors import DuplicateKeyError

from compressor_contracts import Priority, RequestChannel
from compressor_kit.auth import Role, principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from intake_service.actors import ALL_PEOPLE, FRONT_DESK, STAFF, ensure_may_see_customer, is_staff, staff_member
from intake_service.requests import domain
from intake_service.requests.domain import CancelIn, RequestIn
from intake_service.requests.recording import prepare_job
from intake_service.requests.store import JOBS
from intake_service.validation import refuse_if_any

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=200,
        required=False,
        description="Repeat the request with the same key to get the same job back; nothing new is published.",
    ),
]


def _replay(job: dict, request_fingerprint: str, runtime: Runtime) -> Response:
    if job.get("request_fingerprint") != request_fingerprint:
        raise Problem(422, "this Idempotency-Key was used for a different request", field="Idempotency-Key")
    return Response(domain.job_view(job, runtime.clock.now()), status_code=200, headers={"Idempotent-Replayed": "true"})


@post(
    "/requests",
    **requires(Role.RECEPTION, Role.MANAGER, Role.ADMIN, Role.CUSTOMER),
    operation_id="recordServiceRequest",
)
async def record_request(
    request: Request,
    runtime: NamedDependency[Runtime],
    data: JSONBody[RequestIn],
    idempotency_key: IdempotencyKey = None,
) -> Response[dict[str, Any]]:
    """Record a service request from a call, the portal, a call-back record or a proactive visit;
    publishes job.requested. 201 with the new job; 200 with the same job for a repeated Idempotency-Key."""
    principal = principal_of(request)
    by_customer = not is_staff(principal)
    if by_customer:
        ensure_may_see_customer(principal, data.customer_id)
    refuse_if_any(domain.check_request(data, by_customer=by_customer))
    db = runtime.db
    # Scoped to the caller so one client's key can never return another's job.
    scoped_key = f"{principal.subject}|{idempotency_key}" if idempotency_key else None
    request_fingerprint = domain.fingerprint(data)
    if scoped_key and (earlier := await db[JOBS].find_one({"idempotency_key": scoped_key})):
        return _replay(earlier, request_fingerprint, runtime)

    prepared = await prepare_job(
        runtime, principal, data, idempotency_key=scoped_key, request_fingerprint=request_fingerprint
    )

    try:
        await runtime.outbox.transact(prepared.record)
    except DuplicateKeyError:
        # A concurrent request with the same key won: answer with its job, publish nothing.
        if scoped_key and (earlier := await db[JOBS].find_one({"idempotency_key": scoped_key})):
            return _replay(earlier, request_fingerprint, runtime)
        raise Problem(409, "the unit was registered concurrently; retry", field="equipment.serial_number") from None
    return Response(domain.job_view(prepared.job, runtime.clock.now()), status_code=201)


@get("/requests", **requires(*STAFF), operation_id="listServiceRequests")
async def list_requests(
    runtime: NamedDependency[Runtime],
    status: Annotated[
        str, Parameter(pattern="^(open|cancelled|closed|all)$", description="open (default), cancelled, closed or all")
    ] = "open",
    priority: FromQuery[Priority | None] = None,
    channel: FromQuery[RequestChannel | None] = None,
    customer_id: FromQuery[str | None] = None,
    region: FromQuery[str | None] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[dict[str, Any]]:
    """The management view: requests by priority (most urgent first), then age (oldest first)."""
    query: dict[str, Any] = {} if status == "all" else {"status": status}
    for name, value in (("priority", priority), ("channel", channel), ("customer_id", customer_id), ("region", region)):
        if value is not None:
            query[name] = str(value)
    jobs = runtime.db[JOBS]
    found = (
        await jobs.find(query)
        .sort([("priority_rank", 1), ("requested_at", 1), ("_id", 1)])
        .skip(offset)
        .limit(limit)
        .to_list()
    )
    now = runtime.clock.now()
    return Page(
        items=[domain.job_view(job, now) for job in found],
        total=await jobs.count_documents(query),
        limit=limit,
        offset=offset,
    )


@get("/requests/summary", **requires(*STAFF), operation_id="summariseOpenRequests")
async def summarise_open_requests(runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    """Open requests per priority (most urgent first): how many, and the age of the oldest."""
    groups = await (
        await runtime.db[JOBS].aggregate(
            [
                {"$match": {"status": domain.OPEN}},
                {"$group": {"_id": "$priority", "open": {"$sum": 1}, "oldest": {"$min": "$requested_at"}}},
            ]
        )
    ).to_list()
    now = runtime.clock.now()
    found = {group["_id"]: group for group in groups}
    return {
        "priorities": [
            {
                "priority": priority.value,
                "open": found[priority.value]["open"] if priority.value in found else 0,
                "oldest_age_hours": domain.age_hours(found[priority.value]["oldest"], now)
                if priority.value in found
                else None,
            }
            for priority in sorted(domain.PRIORITY_RANK, key=domain.PRIORITY_RANK.__getitem__)
        ],
        "open": sum(group["open"] for group in groups),
    }


async def _job_for(request: Request, runtime: Runtime, job_id: str, session=None) -> dict[str, Any]:
    job = await runtime.db[JOBS].find_one({"_id": job_id}, session=session)
    if job is None:
        raise Problem(404, "unknown job", field="job_id")
    ensure_may_see_customer(principal_of(request), job["customer_id"])
    return job


@get("/requests/{job_id:str}", **requires(*ALL_PEOPLE), operation_id="getServiceRequest")
async def get_request(request: Request, runtime: NamedDependency[Runtime], job_id: FromPath[str]) -> dict[str, Any]:
    return domain.job_view(await _job_for(request, runtime, job_id), runtime.clock.now())


@post(
    "/requests/{job_id:str}/cancel",
    **requires(Role.CUSTOMER, *FRONT_DESK),
    operation_id="cancelServiceRequest",
    status_code=200,
)
async def cancel_request(
    request: Request, runtime: NamedDependency[Runtime], job_id: FromPath[str], data: JSONBody[CancelIn]
) -> dict[str, Any]:
    """Cancel an open job at the customer's request; publishes job.cancelled. 409 when not open."""
    principal = principal_of(request)
    recorded_by = staff_member(principal)
    now = runtime.clock.now()

    async def cancel(uow) -> dict[str, Any]:
        job = await _job_for(request, runtime, job_id, session=uow.session)
        if refusal := domain.cancellation_refusal(job):
            raise Problem(409, refusal, field="job_id")
        # The customer asks for a cancellation; staff only record it on their behalf.
        cancelled_by = data.cancelled_by or job["requested"]["contact"]["name"]
        cancellation = {"reason": data.reason, "cancelled_by": cancelled_by, "cancelled_at": now}
        updated = await uow.db[JOBS].find_one_and_update(
            {"_id": job_id, "status": domain.OPEN},
            {"$set": {"status": domain.CANCELLED, "cancellation": cancellation}},
            session=uow.session,
            return_document=True,
        )
        if updated is None:
            raise Problem(409, "the job is no longer open", field="job_id")
        await uow.publish(domain.job_cancelled(job_id, data, cancelled_by=cancelled_by, recorded_by=recorded_by))
        return updated

    job = await runtime.outbox.transact(cancel)
    return domain.job_view(job, now)


ROUTES = [record_request, list_requests, summarise_open_requests, get_request, cancel_request]
