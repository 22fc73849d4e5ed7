"""Renders, stores and publishes due record versions.

Order matters: the PDF is stored first under its deterministic key, then the record version is
marked published and `job.report_published` written in ONE outbox transaction, conditional on the
version still being pending. A store outage leaves the version pending and it is retried next
round; a concurrent replica rendering the same version stores identical bytes and loses the
conditional update, so exactly one event is published.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from minio.error import S3Error

from compressor_contracts import JobReportPublished, StoredObject, parse_event
from compressor_kit.outbox import UnitOfWork
from compressor_kit.runtime import Runtime
from reporting_service.records import domain
from reporting_service.records.pdf import render_report
from reporting_service.records.store import FACTS, RECORDS, REPORTS_BUCKET, version_id
from reporting_service.records.versioning import recreate_reports_bucket

log = logging.getLogger(__name__)

CLAIM = timedelta(minutes=2)
BATCH = 20
PDF = "application/pdf"


async def publish_due_reports(runtime: Runtime) -> int:
    """Publish every pending record version that can be written now; returns how many were published."""
    now = runtime.clock.now()
    pending = runtime.db[RECORDS].find(
        {"status": domain.PENDING, "$or": [{"claimed_until": None}, {"claimed_until": {"$lt": now}}]},
        {"_id": 1},
        sort=[("created_at", 1)],
        limit=BATCH,
    )
    published = 0
    for doc_id in [d["_id"] async for d in pending]:
        # Claim it so other replicas don't render it at the same time (correct either way).
        claimed = await runtime.db[RECORDS].find_one_and_update(
            {
                "_id": doc_id,
                "status": domain.PENDING,
                "$or": [{"claimed_until": None}, {"claimed_until": {"$lt": now}}],
            },
            {"$set": {"claimed_until": now + CLAIM}},
            return_document=True,
        )
        if claimed is None:
            continue
        try:
            published += await publish_version(runtime, claimed)
        except domain.MissingFacts as waiting:
            log.info("record %s not ready: %s", doc_id, waiting)
            await _release(runtime, doc_id, str(waiting))
        except Exception as exc:
            log.warning("report %s not published, will retry: %r", doc_id, exc)
            await _release(runtime, doc_id, repr(exc)[:500])
    return published


async def _release(runtime: Runtime, doc_id: str, reason: str) -> None:
    await runtime.db[RECORDS].update_one(
        {"_id": doc_id, "status": domain.PENDING},
        {"$set": {"claimed_until": None, "last_error": reason}, "$inc": {"attempts": 1}},
    )


async def content_of(runtime: Runtime, pending: dict[str, Any]) -> dict[str, Any]:
    if pending["version"] == 1:
        facts = [f async for f in runtime.db[FACTS].find({"job_id": pending["job_id"]})]
        return domain.build_record(pending["job_id"], facts)
    previous = await runtime.db[RECORDS].find_one(
        {"_id": version_id(pending["record_id"], pending["version"] - 1), "status": domain.PUBLISHED}
    )
    if previous is None:
        raise domain.MissingFacts("the previous version is not published yet")
    return domain.apply_correction(previous["content"], pending["correction"]["fields"])


async def publish_version(runtime: Runtime, pending: dict[str, Any]) -> int:
    content = await content_of(runtime, pending)
    record = {**pending, "content": content}
    pdf = render_report(record)
    checksum = hashlib.sha256(pdf).hexdigest()
    key = domain.report_key(pending["job_id"], pending["version"], content["dates"]["inspection_passed_at"])
    metadata = {
        "job-id": pending["job_id"],
        "record-id": pending["record_id"],
        "record-version": str(pending["version"]),
        "sha256": checksum,
    }
    try:
        object_version = await runtime.objects.put_bytes(REPORTS_BUCKET, key, pdf, PDF, metadata)
    except S3Error as error:
        if error.code != "NoSuchBucket":
            raise
        await recreate_reports_bucket(runtime)
        object_version = await runtime.objects.put_bytes(REPORTS_BUCKET, key, pdf, PDF, metadata)
    report = StoredObject(
        bucket=runtime.objects.bucket(REPORTS_BUCKET),
        object_key=key,
        sha256=checksum,
        size_bytes=len(pdf),
        content_type=PDF,
    )
    cause = parse_event(pending["cause"]) if pending.get("cause") else None
    published_at = runtime.clock.now()

    async def commit(uow: UnitOfWork) -> int:
        result = await uow.db[RECORDS].update_one(
            {"_id": pending["_id"], "status": domain.PENDING},
            {
                "$set": {
                    "status": domain.PUBLISHED,
                    "content": content,
                    "report": {**report.model_dump(), "object_version": object_version, "metadata": metadata},
                    "published_at": published_at,
                    "claimed_until": None,
                },
            },
            session=uow.session,
        )
        if result.modified_count != 1:
            return 0  # another replica published it, or the job was cancelled meanwhile
        await uow.publish(
            JobReportPublished(
                job_id=pending["job_id"],
                record_id=pending["record_id"],
                record_version=pending["version"],
                report=report,
                outcome=domain.outcome(content),
            ),
            cause=cause,
            correlation_id=pending.get("correlation_id"),
        )
        return 1

    return await runtime.outbox.transact(commit)
