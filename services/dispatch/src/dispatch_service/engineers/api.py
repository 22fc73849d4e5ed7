"""Engineers over HTTP: dispatchers and admins create and update them; managers may look."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter

from compressor_contracts import CompressorType
from compressor_kit.auth import Role, principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from dispatch_service.engineers.domain import ENGINEER_ID, EngineerInput, EngineerPatch, engineer_view
from dispatch_service.engineers.store import next_engineer_id
from dispatch_service.jobs import ENGINEERS

EngineerId = Annotated[str, Parameter(description="Engineer id, e.g. ENG-001.")]


def _check_id(engineer_id: str) -> None:
    if not ENGINEER_ID.match(engineer_id):
        raise Problem(404, f"unknown engineer {engineer_id}", field="engineer_id")


@post("/engineers", **requires(Role.DISPATCHER, Role.ADMIN), operation_id="createEngineer", tags=["engineers"])
async def create_engineer(data: JSONBody[EngineerInput], runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    """Register an engineer; dispatch issues the id (ENG-nnn), which is also the engineer's token subject."""
    now = runtime.clock.now()
    engineer_id = await next_engineer_id(runtime.db)
    while await runtime.db[ENGINEERS].find_one({"_id": engineer_id}, {"_id": 1}) is not None:
        engineer_id = await next_engineer_id(runtime.db)  # skip ids taken by seed data
    doc = {"_id": engineer_id, **data.model_dump(mode="json"), "created_at": now, "updated_at": now}
    await runtime.db[ENGINEERS].insert_one(doc)
    return engineer_view(doc)


@get(
    "/engineers",
    **requires(Role.DISPATCHER, Role.ADMIN, Role.MANAGER),
    operation_id="listEngineers",
    tags=["engineers"],
)
async def list_engineers(
    runtime: NamedDependency[Runtime],
    limit: Limit = 50,
    offset: Offset = 0,
    region: Annotated[str | None, Parameter(description="Only engineers covering this region.")] = None,
    compressor_type: Annotated[CompressorType | None, Parameter(description="Only engineers skilled in it.")] = None,
    brand: Annotated[str | None, Parameter(description="Only engineers trained on this brand.")] = None,
    active: Annotated[bool | None, Parameter(description="Only active (true) or inactive (false) engineers.")] = None,
) -> Page[dict[str, Any]]:
    query: dict[str, Any] = {}
    if region:
        query["regions"] = region
    if compressor_type:
        query["skills.compressor_types"] = compressor_type.value
    if brand:
        query["skills.brands"] = brand
    if active is not None:
        query["active"] = active
    total = await runtime.db[ENGINEERS].count_documents(query)
    docs = await runtime.db[ENGINEERS].find(query).sort("_id", 1).skip(offset).limit(limit).to_list()
    return Page(items=[engineer_view(d) for d in docs], total=total, limit=limit, offset=offset)


@get(
    "/engineers/{engineer_id:str}",
    **requires(Role.DISPATCHER, Role.ADMIN, Role.MANAGER, Role.ENGINEER),
    operation_id="getEngineer",
    tags=["engineers"],
)
async def get_engineer(engineer_id: EngineerId, runtime: NamedDependency[Runtime], request: Request) -> dict[str, Any]:
    """An engineer; an engineer (role) may only read their own record."""
    principal = principal_of(request)
    staff = principal.roles & {Role.DISPATCHER, Role.ADMIN, Role.MANAGER}
    if not staff and principal.subject != engineer_id:
        raise Problem(403, "engineers may only read their own record", field="engineer_id")
    _check_id(engineer_id)
    doc = await runtime.db[ENGINEERS].find_one({"_id": engineer_id})
    if doc is None:
        raise Problem(404, f"unknown engineer {engineer_id}", field="engineer_id")
    return engineer_view(doc)


@patch(
    "/engineers/{engineer_id:str}",
    **requires(Role.DISPATCHER, Role.ADMIN),
    operation_id="updateEngineer",
    tags=["engineers"],
)
async def update_engineer(
    engineer_id: EngineerId, data: JSONBody[EngineerPatch], runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    """Change skills, regions, calendar (shifts, leave), capacity or active; omitted fields stay."""
    _check_id(engineer_id)
    changes = data.model_dump(mode="json", exclude_unset=True)
    if any(value is None for key, value in changes.items() if key not in ("phone", "email")):
        nulls = [key for key, value in changes.items() if value is None and key not in ("phone", "email")]
        raise Problem(422, f"{nulls[0]} cannot be null", field=nulls[0])
    doc = await runtime.db[ENGINEERS].find_one_and_update(
        {"_id": engineer_id},
        {"$set": {**changes, "updated_at": runtime.clock.now()}},
        return_document=True,
    )
    if doc is None:
        raise Problem(404, f"unknown engineer {engineer_id}", field="engineer_id")
    return engineer_view(doc)


ROUTES = [create_engineer, list_engineers, get_engineer, update_engineer]
