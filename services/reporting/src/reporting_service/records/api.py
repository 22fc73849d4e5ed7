"""The maintenance record, its versions and corrections, and the report download link (in Bahasa
Melayu or English)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import CustomerRepresentative, Engineer, FailureCategory, StaffRole, StoredObject
from compressor_contracts.common import Language
from compressor_contracts.events.maintenance import SignedFor
from compressor_kit.auth import CUSTOMER, STAFF, principal_of, requires
from compressor_kit.outbox import UnitOfWork
from compressor_kit.refusals import Refusal
from reporting_service.records import archive, domain, store
from reporting_service.records.versioning import presigned_report_link
from reporting_service.settings import ReportingRuntime
from reporting_service.timeline.api import PhaseStint

TAGS = ["Records"]
RecordVersion = Annotated[int | None, Parameter(ge=1, le=1_000_000, description="A version; the latest by default.")]
ReportLanguage = Annotated[
    Language | None,
    Parameter(description="The report's language, 'ms' or 'en'; the job's contact's preferred language by default."),
]

_REPORT: dict[str, Any] = {
    "bucket": "compressor-reports",
    "object_key": "2026/03/JOB-2026-000123/v1/ms/report.pdf",
    "sha256": "9f2c4e0b8a7d61f35c0e2b4a9d8c7b6a5f4e3d2c1b0a99887766554433221100",
    "size_bytes": 48213,
    "content_type": "application/pdf",
    "object_version": "6d3f0c2e-8a41-4b7e-9d55-1c2b3a4f5e6d",
    "metadata": {
        "job-id": "JOB-2026-000123",
        "record-id": "REC-5A1F0C2E8A414B7E9D55",
        "record-version": "1",
        "sha256": "9f2c4e0b8a7d61f35c0e2b4a9d8c7b6a5f4e3d2c1b0a99887766554433221100",
    },
}


_REPORT_EN_KEY = "2026/03/JOB-2026-000123/v1/en/report.pdf"


class RecordDates(BaseModel):
    requested_at: datetime
    assigned_at: datetime | None = None
    prediagnosed_at: datetime | None = None
    arrived_at: datetime | None = None
    diagnosed_at: datetime
    plan_approved_at: datetime | None = None
    work_started_at: datetime | None = None
    work_completed_at: datetime
    inspection_passed_at: datetime


class RecordSignature(BaseModel):
    """A signature the customer's responsible person gave for the job (from job.signed)."""

    signature_id: str
    signed_for: SignedFor
    plan_revision: int | None = None
    round: int | None = None
    signer: CustomerRepresentative
    signed_at: datetime
    content_sha256: str = Field(description="SHA-256 of what was signed.")
    image: StoredObject = Field(description="The drawn signature in maintenance's bucket.")
    collected_by: Engineer | None = None
    image_verified: bool | None = Field(
        default=None, description="Whether the image was found and matched its SHA-256 when the report was rendered."
    )


class RecordContent(BaseModel):
    """What the record says of the job, as the job's events told it up to the passed inspection.
    Parties, equipment, plan and rounds are as the events carried them."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    customer: dict[str, Any]
    contact: dict[str, Any]
    site: dict[str, Any]
    equipment: dict[str, Any]
    priority: str
    channel: str
    fault_description: str
    engineer: dict[str, Any]
    region: str
    dates: RecordDates
    service_date: date
    prediagnosis: dict[str, Any] | None = None
    diagnosis: dict[str, Any]
    plan: dict[str, Any] | None = None
    rounds: list[dict[str, Any]]
    steps_done: list[dict[str, Any]]
    parts_used: list[dict[str, Any]]
    root_cause: str
    failure_category: str
    repair_method: str
    labour_hours: float | int
    inspection_rounds: int
    seconds_per_phase: dict[str, float]
    phases: list[PhaseStint]
    elapsed_seconds: float | int
    commitment: dict[str, Any] | None = None
    arrive_by_met: bool | None = None
    resolve_by_met: bool | None = None
    running_hours: int | None = None
    running_hours_source: Literal["engineer", "controller"] | None = Field(
        default=None,
        description="Where the running hours came from: typed by the engineer at the diagnosis, or read by the "
        "machine's controller (the reading nearest the visit among those the request carried).",
    )
    running_hours_read_at: datetime | None = Field(
        default=None, description="When the controller read the running hours (source 'controller')."
    )
    signatures: list[RecordSignature] = Field(default=[], description="Signatures given for the job, in order.")


class ReportFile(BaseModel):
    """The report PDF in object storage: the exact object version the record checksummed."""

    bucket: str
    object_key: str
    sha256: str
    size_bytes: int
    content_type: str
    object_version: str | None = None
    metadata: dict[str, str] = {}


class CorrectionNote(BaseModel):
    reason: str
    fields: dict[str, Any] = Field(description="The corrected fields and their new values.")
    by: str = Field(description="Who corrected it.")


class SignatureAdded(BaseModel):
    """A version that exists because the customer signed after the previous one was published."""

    signature_id: str
    signed_for: SignedFor
    signer: CustomerRepresentative


class VersionSummary(BaseModel):
    version: int
    status: str = Field(description="pending, published or abandoned.")
    published_at: datetime | None = None


class RecordView(BaseModel):
    """One version of a job's maintenance record, with the list of all its versions."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "record_id": "REC-5A1F0C2E8A414B7E9D55",
                    "version": 1,
                    "job_id": "JOB-2026-000123",
                    "status": "published",
                    "published_at": "2026-03-02T18:30:02Z",
                    "correction": None,
                    "signature_added": None,
                    "language": "ms",
                    "report": _REPORT,
                    "reports": {"ms": _REPORT, "en": {**_REPORT, "object_key": _REPORT_EN_KEY}},
                    "content": {
                        "job_id": "JOB-2026-000123",
                        "customer": {"customer_id": "CUST-0107", "name": "Seri Murni Foods Sdn Bhd"},
                        "contact": {"name": "Tan Wei Ming", "phone": "+60 3-5566 7788"},
                        "site": {"site_id": "SITE-01", "region": "central"},
                        "equipment": {"equipment_id": "EQ-7781", "model_code": "AC-GA37VSD"},
                        "priority": "high",
                        "channel": "phone",
                        "fault_description": "Discharge temperature alarm, unit trips after 20 minutes.",
                        "engineer": {"engineer_id": "ENG-014", "name": "Ahmad Faizal"},
                        "region": "central",
                        "dates": {
                            "requested_at": "2026-03-02T08:00:00Z",
                            "assigned_at": "2026-03-02T08:30:00Z",
                            "prediagnosed_at": "2026-03-02T09:00:00Z",
                            "arrived_at": "2026-03-02T12:00:00Z",
                            "diagnosed_at": "2026-03-02T13:00:00Z",
                            "plan_approved_at": "2026-03-02T14:00:00Z",
                            "work_started_at": "2026-03-02T14:15:00Z",
                            "work_completed_at": "2026-03-02T15:00:00Z",
                            "inspection_passed_at": "2026-03-02T15:30:00Z",
                        },
                        "service_date": "2026-03-02",
                        "prediagnosis": None,
                        "diagnosis": {
                            "measurements": [],
                            "root_cause": "Thermostatic valve stuck open: oil bypasses the cooler.",
                            "failure_category": "cooling",
                            "scope": "Replace the thermostatic valve.",
                            "running_hours": 23150,
                        },
                        "plan": None,
                        "rounds": [],
                        "steps_done": [],
                        "parts_used": [
                            {
                                "part_number": "1622-3600-00",
                                "description": "Thermostatic valve",
                                "quantity": 1,
                                "unit": "pc",
                            }
                        ],
                        "root_cause": "Thermostatic valve stuck open: oil bypasses the cooler.",
                        "failure_category": "cooling",
                        "repair_method": "Replaced the thermostatic valve.",
                        "labour_hours": 3.5,
                        "inspection_rounds": 1,
                        "seconds_per_phase": {"1": 1800.0, "5": 2700.0, "6": 1800.0},
                        "phases": [],
                        "elapsed_seconds": 27000.0,
                        "commitment": None,
                        "arrive_by_met": None,
                        "resolve_by_met": None,
                        "running_hours": 23150,
                        "signatures": [],
                    },
                    "archived": None,
                    "versions": [{"version": 1, "status": "published", "published_at": "2026-03-02T18:30:02Z"}],
                }
            ]
        }
    )

    record_id: str
    version: int
    job_id: str
    status: str
    published_at: datetime | None = None
    correction: CorrectionNote | None = Field(default=None, description="Why and what a correction changed.")
    signature_added: SignatureAdded | None = Field(
        default=None, description="The signature this version was made to show."
    )
    language: Language | None = Field(
        default=None, description="The contact's language: the report `job.report_published` named."
    )
    report: ReportFile | None = Field(default=None, description="The report PDF in the contact's language.")
    reports: dict[Language, ReportFile] = Field(default={}, description="The report PDF in each language.")
    content: RecordContent | None = None
    archived: bool | None = Field(default=None, description="True when read from the archive.")
    versions: list[VersionSummary] = []


class ReportLink(BaseModel):
    """A presigned download link of one report PDF."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "JOB-2026-000123",
                    "record_id": "REC-5A1F0C2E8A414B7E9D55",
                    "version": 1,
                    "language": "ms",
                    "url": "https://objects.example.com/compressor-reports/2026/03/JOB-2026-000123/v1/ms/report.pdf"
                    "?X-Amz-Signature=...",
                    "expires_at": "2026-03-02T18:45:02Z",
                    "object_key": _REPORT["object_key"],
                    "object_version": _REPORT["object_version"],
                    "sha256": _REPORT["sha256"],
                    "size_bytes": _REPORT["size_bytes"],
                    "content_type": "application/pdf",
                }
            ]
        }
    )

    job_id: str
    record_id: str
    version: int
    language: Language = Field(description="The report's language.")
    url: str
    expires_at: datetime
    object_key: str
    object_version: str | None = None
    sha256: str
    size_bytes: int
    content_type: str


class Correction(BaseModel):
    """What to correct in a published record; the corrected version is a new version."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reason": "Cause confirmed by the manufacturer's teardown report.",
                    "root_cause": "Thermostat element cracked: the valve could not close.",
                }
            ]
        },
    )

    reason: str = Field(min_length=3, max_length=2000, description="Why the record is corrected.")
    root_cause: str | None = Field(default=None, min_length=1, max_length=2000)
    failure_category: FailureCategory | None = None
    repair_method: str | None = Field(default=None, min_length=1, max_length=2000)
    scope: str | None = Field(default=None, min_length=1, max_length=2000)


class CorrectionAccepted(BaseModel):
    """The correction is a new pending version; it is published with a new PDF."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"record_id": "REC-5A1F0C2E8A414B7E9D55", "version": 2, "status": "pending"}]}
    )

    record_id: str
    version: int
    status: str


def _is_staff(request: Request[Any, Any, Any]) -> bool:
    return bool(principal_of(request).roles.intersection(STAFF))


async def _readable_record(
    request: Request[Any, Any, Any], runtime: ReportingRuntime, job_id: str, version: int | None
) -> dict[str, Any]:
    """The job's published version (archived ones too), if the caller may read it."""
    doc = await store.published_of_job(runtime, job_id, version)
    if doc is None:
        doc = await archive.find_archived(runtime, job_id, version)
    if doc is None:
        raise Refusal.not_found(f"no published record for job {job_id!r}" + (f" version {version}" if version else ""))
    domain.check_reader(doc, principal_of(request).subject, _is_staff(request))
    return doc


@get("/jobs/{job_id:str}/record", **requires(*STAFF, CUSTOMER), operation_id="getJobRecord", tags=TAGS)
async def get_job_record(
    request: Request[Any, Any, Any],
    job_id: FromPath[str],
    runtime: NamedDependency[ReportingRuntime],
    version: RecordVersion = None,
) -> RecordView:
    """The job's maintenance record (latest published version unless `version` is given)."""
    doc = await _readable_record(request, runtime, job_id, version)
    versions = await store.versions_of_job(runtime, job_id)
    return RecordView.model_validate(
        {**{key: doc[key] for key in RecordView.model_fields if key in doc and key != "versions"}, "versions": versions}
    )


@get("/jobs/{job_id:str}/report-link", **requires(*STAFF, CUSTOMER), operation_id="getReportLink", tags=TAGS)
async def get_report_link(
    request: Request[Any, Any, Any],
    job_id: FromPath[str],
    runtime: NamedDependency[ReportingRuntime],
    version: RecordVersion = None,
    language: ReportLanguage = None,
) -> ReportLink:
    """A fresh presigned download link of the report PDF in `language` (the contact's by default),
    valid for REPORT_LINK_EXPIRY_SECONDS: the portal asks for one on every click, so a customer's
    report link never expires for them. Another customer's job answers 403."""
    doc = await _readable_record(request, runtime, job_id, version)
    expiry = timedelta(seconds=runtime.settings.report_link_expiry_seconds)
    chosen, report = domain.report_in(doc, language)
    return ReportLink(
        job_id=job_id,
        record_id=doc["record_id"],
        version=doc["version"],
        language=chosen,
        url=await presigned_report_link(runtime, report, expiry),
        expires_at=runtime.clock.now() + expiry,
        object_key=report["object_key"],
        object_version=report.get("object_version"),
        sha256=report["sha256"],
        size_bytes=report["size_bytes"],
        content_type=report["content_type"],
    )


@post(
    "/records/{record_id:str}/corrections",
    **requires(StaffRole.ENGINEER, StaffRole.MANAGER),
    operation_id="correctRecord",
    status_code=202,
    tags=TAGS,
)
async def correct_record(
    request: Request[Any, Any, Any],
    record_id: FromPath[str],
    data: JSONBody[Correction],
    runtime: NamedDependency[ReportingRuntime],
) -> CorrectionAccepted:
    """A correction: a new pending version that keeps every earlier one; it is published (new PDF,
    new `job.report_published`) by the report publisher. Only the job's engineer (as the record names
    them) or a manager may correct a record: any other engineer gets 403."""
    fields = data.model_dump(exclude={"reason"}, exclude_none=True, mode="json")
    principal, now = principal_of(request), runtime.clock.now()
    manager = StaffRole.MANAGER in principal.roles

    async def correct(uow: UnitOfWork) -> dict[str, Any]:
        latest = await store.latest_version_in(uow, record_id)
        version = domain.corrected_version(
            latest, record_id, data.reason, fields, principal.subject, now, manager=manager
        )
        await store.add_version(uow, version)
        return version

    version = await runtime.outbox.transact(correct)
    return CorrectionAccepted(record_id=record_id, version=version["version"], status=version["status"])


class RecordsArchived(BaseModel):
    """The records moved to the archive now."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"archived": ["REC-5A1F0C2E8A414B7E9D55"]}]})

    archived: list[str] = Field(description="Record ids.")


@post(
    "/archive/records",
    **requires(StaffRole.MANAGER, StaffRole.ADMIN),
    operation_id="archiveOldRecords",
    status_code=200,
    tags=TAGS,
)
async def archive_records(runtime: NamedDependency[ReportingRuntime]) -> RecordsArchived:
    """Move records older than ARCHIVE_AFTER_DAYS to the archive now (also runs on a schedule)."""
    return RecordsArchived(archived=await archive.archive_old_records(runtime))
