"""Engineers over HTTP: dispatchers and admins create and update them; managers may look."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Example
from litestar.params import JSONBody, Parameter
from pydantic import ConfigDict, Field

from compressor_contracts import CompressorType, StaffRole
from compressor_contracts.common import Email, Identifier, Phone, ShortText
from compressor_kit.auth import principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.refusals import Refusal
from dispatch_service.access import OFFICE
from dispatch_service.engineers import store
from dispatch_service.engineers.domain import ENGINEER_ID, Calendar, EngineerData, EngineerRecord, Skills, Strict
from dispatch_service.settings import DispatchRuntime

TAGS = ["Engineers"]
EngineerId = Annotated[str, Parameter(description="Engineer id, e.g. ENG-001.", examples=[Example(value="ENG-001")])]
# Fields a patch may clear (set to null); the others are required of every engineer.
NULLABLE = frozenset({"phone", "email"})

_EXAMPLE_ENGINEER: dict[str, Any] = {
    "name": "Nurul Aisyah binti Ahmad",
    "phone": "+60123456702",
    "email": "nurul.aisyah@compressor-service.example",
    "skills": {
        "compressor_types": ["oil_injected_screw", "oil_free_screw"],
        "brands": ["Atlas Copco", "Kaeser"],
        "certifications": ["DOSH competent person (pressure vessels)"],
    },
    "regions": ["central", "southern"],
    "calendar": {
        "timezone": "Asia/Kuala_Lumpur",
        "shifts": [{"weekday": day, "start": "08:00", "end": "17:00"} for day in range(5)],
        "leave": [{"start": "2030-02-10", "end": "2030-02-14", "reason": "annual leave"}],
    },
    "capacity_per_day": 4,
    "active": True,
}


class EngineerInput(EngineerData):
    """An engineer as a dispatcher or admin records them."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_ENGINEER]})


class EngineerPatch(Strict):
    """Fields to change; omitted fields stay as they are."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"capacity_per_day": 5, "regions": ["central", "northern"]}]}
    )

    name: ShortText | None = None
    phone: Phone | None = None
    email: Email | None = None
    skills: Skills | None = None
    regions: list[Identifier] | None = Field(default=None, min_length=1, max_length=50)
    calendar: Calendar | None = None
    capacity_per_day: int | None = Field(default=None, ge=1, le=24)
    active: bool | None = None


class EngineerView(EngineerRecord):
    """A registered engineer."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"engineer_id": "ENG-002", **_EXAMPLE_ENGINEER}]})

    @classmethod
    def of(cls, engineer: EngineerRecord) -> EngineerView:
        return cls.model_validate(engineer.model_dump())


def _known_id(engineer_id: str) -> str:
    if not ENGINEER_ID.match(engineer_id):
        raise Refusal.not_found(f"unknown engineer {engineer_id}", field="engineer_id")
    return engineer_id


@post("/engineers", **requires(StaffRole.DISPATCHER, StaffRole.ADMIN), operation_id="createEngineer", tags=TAGS)
async def create_engineer(data: JSONBody[EngineerInput], runtime: NamedDependency[DispatchRuntime]) -> EngineerView:
    """Register an engineer; dispatch issues the id (ENG-nnn), which is also the engineer's token subject."""
    return EngineerView.of(await store.create(runtime, data, runtime.clock.now()))


@get(
    "/engineers",
    **requires(StaffRole.DISPATCHER, StaffRole.ADMIN, StaffRole.MANAGER),
    operation_id="listEngineers",
    tags=TAGS,
)
async def list_engineers(
    runtime: NamedDependency[DispatchRuntime],
    limit: Limit = 50,
    offset: Offset = 0,
    region: Annotated[str | None, Parameter(description="Only engineers covering this region.")] = None,
    compressor_type: Annotated[CompressorType | None, Parameter(description="Only engineers skilled in it.")] = None,
    brand: Annotated[str | None, Parameter(description="Only engineers trained on this brand.")] = None,
    active: Annotated[bool | None, Parameter(description="Only active (true) or inactive (false) engineers.")] = None,
) -> Page[EngineerView]:
    where = store.EngineerFilter(region=region, compressor_type=compressor_type, brand=brand, active=active)
    engineers = await store.page(runtime, where, limit, offset)
    return Page(items=[EngineerView.of(e) for e in engineers.items], total=engineers.total, limit=limit, offset=offset)


@get(
    "/engineers/{engineer_id:str}",
    **requires(StaffRole.DISPATCHER, StaffRole.ADMIN, StaffRole.MANAGER, StaffRole.ENGINEER),
    operation_id="getEngineer",
    tags=TAGS,
)
async def get_engineer(
    engineer_id: EngineerId, runtime: NamedDependency[DispatchRuntime], request: Request[Any, Any, Any]
) -> EngineerView:
    """An engineer; an engineer (role) may only read their own record."""
    principal = principal_of(request)
    if not principal.roles & OFFICE and principal.subject != engineer_id:
        raise Refusal.forbidden("engineers may only read their own record", field="engineer_id")
    engineer = await store.find(runtime, _known_id(engineer_id))
    if engineer is None:
        raise Refusal.not_found(f"unknown engineer {engineer_id}", field="engineer_id")
    return EngineerView.of(engineer)


@patch(
    "/engineers/{engineer_id:str}",
    **requires(StaffRole.DISPATCHER, StaffRole.ADMIN),
    operation_id="updateEngineer",
    tags=TAGS,
)
async def update_engineer(
    engineer_id: EngineerId, data: JSONBody[EngineerPatch], runtime: NamedDependency[DispatchRuntime]
) -> EngineerView:
    """Change skills, regions, calendar (shifts, leave), capacity or active; omitted fields stay."""
    _known_id(engineer_id)
    changes = data.model_dump(mode="json", exclude_unset=True)
    nulls = [key for key, value in changes.items() if value is None and key not in NULLABLE]
    if nulls:
        raise Refusal.invalid(f"{nulls[0]} cannot be null", field=nulls[0])
    engineer = await store.update(runtime, engineer_id, changes, runtime.clock.now())
    if engineer is None:
        raise Refusal.not_found(f"unknown engineer {engineer_id}", field="engineer_id")
    return EngineerView.of(engineer)


ROUTES = [create_engineer, list_engineers, get_engineer, update_engineer]
