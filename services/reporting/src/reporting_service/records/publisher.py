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
from reporting_service.records import domain, store
from reporting_service.records.pdf import render_report
from reporting_service.records.store import REPORTS_BUCKET
from reporting_service.records.versioning import recreate_reports_bucket
from reporting_service.settings import ReportingRuntime
from reporting_service.timeline import store as timeline

log = logging.getLogger(__name__)

CLAIM = timedelta(minutes=2)
BATCH = 20
PDF = "application/pdf"


async def publish_due_reports(runtime: ReportingRuntime) -> int:
    """Publish every pending record version that can be written now; returns how many were published."""
    now = runtime.clock.now()
    published = 0
    for doc_id in await store.pending_ids(runtime, now, BATCH):
        claimed = await store.claim(runtime, doc_id, now, now + CLAIM)
        if claimed is None:
            continue
        try:
            published += await publish_version(runtime, claimed)
        except domain.MissingFacts as waiting:
            log.info("record %s not ready: %s", doc_id, waiting)
            await store.release(runtime, doc_id, str(waiting))
        except Exception as exc:
            log.warning("report %s not published, will retry: %r", doc_id, exc)
            await store.release(runtime, doc_id, repr(exc)[:500])
    return published


async def content_of(runtime: ReportingRuntime, pending: dict[str, Any]) -> dict[str, Any]:
    """Version 1 from the job's timeline; a correction from the version before it."""
    if pending["version"] == 1:
        return domain.build_record(pending["job_id"], await timeline.entries_of(runtime, pending["job_id"]))
    previous = await store.published_version(runtime, pending["record_id"], pending["version"] - 1)
    if previous is None:
        raise domain.MissingFacts("the previous version is not published yet")
    return domain.apply_correction(previous["content"], pending["correction"]["fields"])


async def publish_version(runtime: ReportingRuntime, pending: dict[str, Any]) -> int:
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
        published = {
            "content": content,
            "report": {**report.model_dump(), "object_version": object_version, "metadata": metadata},
            "published_at": published_at,
        }
        if not await store.mark_published(uow, pending["_id"], published):
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
