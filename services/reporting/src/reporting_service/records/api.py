"""The maintenance record, its versions and corrections, and the report download link."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field
from pymongo.errors import DuplicateKeyError

from compressor_contracts import FailureCategory
from compressor_kit.auth import Role, principal_of, requires
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from reporting_service.records import archive, domain
from reporting_service.records.store import RECORDS, latest_published, version_id
from reporting_service.records.versioning import presigned_report_link
from reporting_service.settings import reporting_settings

STAFF = (Role.RECEPTION, Role.DISPATCHER, Role.ENGINEER, Role.INSPECTOR, Role.MANAGER, Role.ADMIN)

RecordVersion = Annotated[int | None, Parameter(ge=1, le=1_000_000, description="A version; the latest by default.")]


def _check_owner(request: Request, record: dict[str, Any]) -> None:
    """A customer sees only their own records; staff see all."""
    principal = principal_of(request)
    if principal.roles.intersection(STAFF):
        return
    if record["content"]["customer"]["customer_id"] != principal.subject:
        raise Problem(403, "this record belongs to another customer", field="job_id")


def _view(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        key: doc.get(key)
        for key in (
            "record_id",
            "version",
            "job_id",
            "status",
            "published_at",
            "correction",
            "report",
            "content",
            "archived",
        )
    }


async def _record_of_job(runtime: Runtime, job_id: str, version: int | None) -> dict[str, Any]:
    if version is None:
        doc = await latest_published(runtime.db, job_id=job_id)
    else:
        doc = await runtime.db[RECORDS].find_one({"job_id": job_id, "version": version, "status": "published"})
    if doc is None:
        doc = await archive.find_archived(runtime, job_id=job_id, version=version)
    if doc is None:
        raise Problem(404, f"no published record for job {job_id!r}" + (f" version {version}" if version else ""))
    return doc


@get("/jobs/{job_id:str}/record", **requires(*STAFF, Role.CUSTOMER), operation_id="getJobRecord")
async def get_job_record(
    request: Request, job_id: FromPath[str], runtime: NamedDependency[Runtime], version: RecordVersion = None
) -> dict[str, Any]:
    """The job's maintenance record (latest published version unless `version` is given)."""
    doc = await _record_of_job(runtime, job_id, version)
    _check_owner(request, doc)
    versions = [
        {"version": v["version"], "status": v["status"], "published_at": v.get("published_at")}
        async for v in runtime.db[RECORDS].find({"job_id": job_id}, sort=[("version", 1)])
    ]
    return {**_view(doc), "versions": versions}


@get("/jobs/{job_id:str}/report-link", **requires(*STAFF, Role.CUSTOMER), operation_id="getReportLink")
async def get_report_link(
    request: Request, job_id: FromPath[str], runtime: NamedDependency[Runtime], version: RecordVersion = None
) -> dict[str, Any]:
    """A presigned download link of the report PDF, valid for REPORT_LINK_EXPIRY_SECONDS."""
    doc = await _record_of_job(runtime, job_id, version)
    _check_owner(request, doc)
    expiry = timedelta(seconds=reporting_settings(runtime.settings).report_link_expiry_seconds)
    report = doc["report"]
    url = await presigned_report_link(runtime, report, expiry)
    return {
        "job_id": job_id,
        "record_id": doc["record_id"],
        "version": doc["version"],
        "url": url,
        "expires_at": runtime.clock.now() + expiry,
        "object_key": report["object_key"],
        "object_version": report.get("object_version"),
        "sha256": report["sha256"],
        "size_bytes": report["size_bytes"],
        "content_type": report["content_type"],
    }


class Correction(BaseModel):
    """What to correct in a published record; the corrected version is a new version."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=2000, description="Why the record is corrected.")
    root_cause: str | None = Field(default=None, min_length=1, max_length=2000)
    failure_category: FailureCategory | None = None
    repair_method: str | None = Field(default=None, min_length=1, max_length=2000)
    scope: str | None = Field(default=None, min_length=1, max_length=2000)


@post(
    "/records/{record_id:str}/corrections",
    **requires(Role.ENGINEER, Role.MANAGER, Role.ADMIN),
    operation_id="correctRecord",
    status_code=202,
)
async def correct_record(
    request: Request, record_id: FromPath[str], data: JSONBody[Correction], runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    """A correction: a new pending version that keeps every earlier one; it is published (new PDF,
    new `job.report_published`) by the report publisher."""
    fields = data.model_dump(exclude={"reason"}, exclude_none=True, mode="json")
    if not fields:
        raise Problem(422, "name at least one field to correct", field="root_cause")
    latest = await runtime.db[RECORDS].find_one({"record_id": record_id}, sort=[("version", -1)])
    if latest is None:
        raise Problem(404, f"no record {record_id!r}", field="record_id")
    if latest["status"] != domain.PUBLISHED:
        raise Problem(409, f"version {latest['version']} is {latest['status']}; wait until it is published")
    version = latest["version"] + 1
    principal = principal_of(request)
    try:
        await runtime.db[RECORDS].insert_one(
            {
                "_id": version_id(record_id, version),
                "record_id": record_id,
                "version": version,
                "job_id": latest["job_id"],
                "status": domain.PENDING,
                "created_at": runtime.clock.now(),
                "correlation_id": latest.get("correlation_id"),
                "correction": {"reason": data.reason, "fields": fields, "by": principal.subject},
            }
        )
    except DuplicateKeyError:
        raise Problem(409, "another correction of this record was just made; reload and retry") from None
    return {"record_id": record_id, "version": version, "status": domain.PENDING}
