"""HTTP API of machine labels: a site's printable sheet, and what a scanned label may show (to anyone:
the model and the serial; to its owner and staff: the unit and its open jobs)."""

from __future__ import annotations

from typing import Annotated

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath, Parameter
from pydantic import ConfigDict

from compressor_kit.auth import CUSTOMER, STAFF, principal_of, public, requires
from compressor_kit.refusals import Refusal
from intake_service.actors import FRONT_DESK, CallerRequest, ensure_may_see_customer
from intake_service.customer_file import store as file_store
from intake_service.customer_file.domain import UNIT_EXAMPLE, UnitOnFile
from intake_service.labels import store as labels
from intake_service.labels.domain import MachineOnLabel, labels_of_site, machine_on_label, plausible_label_id
from intake_service.labels.sheet import label_sheet
from intake_service.requests import store as jobs
from intake_service.requests.views import JOB_EXAMPLE, JobView, job_view
from intake_service.settings import IntakeRuntime

TAGS = ["Machine labels"]
CustomerId = Annotated[str, Parameter(description="The customer's id.", examples=[Example(value="CUST-1A2B3C4D5E6F")])]
SiteId = Annotated[str, Parameter(description="One of its sites.", examples=[Example(value="SITE-7F3A9C21B04D")])]


class MachineWithJobs(UnitOnFile):
    """A labelled unit as its owner (or staff) sees it: the unit and its open jobs, oldest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**UNIT_EXAMPLE, "label_id": "q3ZbT0vC9xkP2mR7sLw4nA8d", "open_jobs": [JOB_EXAMPLE]}]
        }
    )

    open_jobs: list[JobView]


async def labelled_unit(runtime: IntakeRuntime, label_id: str) -> UnitOnFile:
    """The unit a label names; 404 for any other id (a serial or an equipment id is never a label id)."""
    unit = await labels.unit_with_label(runtime, label_id) if plausible_label_id(label_id) else None
    if unit is None:
        raise Refusal.not_found("unknown label", field="label_id")
    return unit


@get(
    "/customers/{customer_id:str}/sites/{site_id:str}/labels",
    **requires(*FRONT_DESK, CUSTOMER),
    operation_id="printSiteLabels",
    tags=TAGS,
    media_type="application/pdf",
    responses={
        200: ResponseSpec(
            bytes, description="The A4 sheet of labels (PDF).", media_type="application/pdf", generate_examples=False
        )
    },
)
async def site_labels(
    request: CallerRequest, runtime: NamedDependency[IntakeRuntime], customer_id: CustomerId, site_id: SiteId
) -> Response[bytes]:
    """The A4 sheet of QR labels of every machine at the site: each with the code of its scan page
    (CONSOLE_PUBLIC_URL/m/{label_id}), the model, the serial, the site and "Imbas untuk servis / Scan
    for service". A customer prints its own sites' labels only."""
    ensure_may_see_customer(principal_of(request), customer_id)
    site = await file_store.load_site(runtime, site_id)
    if site is None or site.customer_id != customer_id:
        raise Refusal.not_found("unknown site of this customer", field="site_id")
    units = await labels.units_at_site(runtime, customer_id, site_id)
    pdf = label_sheet(labels_of_site(site, units, runtime.settings.console_public_url), title=f"Labels: {site.name}")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="labels-{site_id}.pdf"', "Cache-Control": "no-store"},
    )


@get("/labels/{label_id:str}", **public(), operation_id="getMachineOnLabel", tags=TAGS)
async def machine_of_label(runtime: NamedDependency[IntakeRuntime], label_id: FromPath[str]) -> MachineOnLabel:
    """Open to anyone who scanned the label: the machine's model and serial (what the label shows),
    nothing of its customer, site or jobs. 404 for an unknown label."""
    return machine_on_label(await labelled_unit(runtime, label_id))


@get(
    "/labels/{label_id:str}/equipment",
    **requires(CUSTOMER, *STAFF),
    operation_id="getLabelledEquipment",
    tags=TAGS,
)
async def labelled_equipment(
    request: CallerRequest, runtime: NamedDependency[IntakeRuntime], label_id: FromPath[str]
) -> MachineWithJobs:
    """The labelled unit with its open jobs, for its customer (another customer: 403) and staff."""
    unit = await labelled_unit(runtime, label_id)
    ensure_may_see_customer(principal_of(request), unit.customer_id)
    now = runtime.clock.now()
    open_jobs = [
        job_view(job, now)
        for job in await jobs.open_jobs_of(runtime, unit.customer_id)
        if job.requested.equipment.equipment_id == unit.equipment_id
    ]
    return MachineWithJobs(**unit.model_dump(), open_jobs=open_jobs)


ROUTES = [site_labels, machine_of_label, labelled_equipment]
