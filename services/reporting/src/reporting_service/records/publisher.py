"""Renders, stores and publishes due record versions.

Each version is rendered in Bahasa Melayu and in English, with the customer's signature images
(read from maintenance's bucket, each checked against its SHA-256). Both PDFs are stored: the
contact's language is the report `job.report_published` names (the one the e-mail links), the other
is a download away, and each is the exact checksummed object its link serves.

Order matters: the PDFs are stored first under their deterministic keys, then the record version is
marked published and `job.report_published` written in ONE outbox transaction, conditional on the
version still being pending and showing every signature that arrived meanwhile. A store outage
leaves the version pending and it is retried next round; a concurrent replica rendering the same
version stores identical bytes and loses the conditional update, so exactly one event is published.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from datetime import datetime, timedelta
from typing import Any

from minio.error import S3Error
from reportlab.lib.utils import ImageReader

from compressor_contracts import JobReportPublished, StoredObject, parse_event
from compressor_kit.alerts import REPORT_RECORD_STUCK, raise_alert
from compressor_kit.i18n import LANGUAGES
from compressor_kit.outbox import UnitOfWork
from compressor_kit.retry import ItemRetry, is_outage
from reporting_service.records import domain, store
from reporting_service.records.pdf import render_report
from reporting_service.records.store import REPORTS_BUCKET
from reporting_service.records.versioning import recreate_reports_bucket
from reporting_service.settings import ReportingRuntime
from reporting_service.timeline import store as timeline

log = logging.getLogger(__name__)

CLAIM = timedelta(minutes=2)
STUCK_ALERT = REPORT_RECORD_STUCK
BATCH = 20
PDF = "application/pdf"


async def publish_due_reports(runtime: ReportingRuntime) -> int:
    """Publish every pending record version that can be written now; returns how many were published.

    A version that fails (its facts incomplete, its rendering or storing refused) waits before its next
    attempt, twice as long each time, so the versions after it are published meanwhile; after
    `report_max_attempts` failures it is parked and alerted (`stuck_count`) until a new event of its job
    arrives. An outage of the object store or the database spends none of its attempts.
    """
    now = runtime.clock.now()
    published = 0
    for doc_id in await store.pending_ids(runtime, now, BATCH):
        claimed = await store.claim(runtime, doc_id, now, now + CLAIM)
        if claimed is None:
            continue
        try:
            published += await publish_version(runtime, claimed)
        except Exception as exc:
            await _failed(runtime, claimed, exc, now)
    return published


async def _failed(runtime: ReportingRuntime, version: dict[str, Any], error: Exception, now: datetime) -> None:
    doc_id = version["_id"]
    reason = str(error) if isinstance(error, domain.MissingFacts) else repr(error)[:500]
    if is_outage(error):
        log.warning("report %s not published, will retry: %s", doc_id, reason)
        await store.release(runtime, doc_id, reason)
        return
    settings = runtime.settings
    retry = ItemRetry(
        settings.report_retry_first_delay_seconds, settings.report_retry_max_delay_seconds, settings.report_max_attempts
    )
    failures = version.get("failures", 0) + 1
    parked = retry.exhausted(failures)
    await store.back_off(runtime, doc_id, reason, failures, now + retry.delay(failures), parked)
    if parked:
        raise_alert(
            log,
            REPORT_RECORD_STUCK,
            "report record stuck: %s of job %s parked after %d failed attempts until a new event of the job "
            "arrives; last error: %s",
            doc_id,
            version["job_id"],
            failures,
            reason,
            record_version=doc_id,
        )
    elif isinstance(error, domain.MissingFacts):
        log.info("record %s not ready (attempt %d): %s", doc_id, failures, reason)
    else:
        log.warning("report %s not published (attempt %d), will retry: %s", doc_id, failures, reason)


async def content_of(runtime: ReportingRuntime, pending: dict[str, Any]) -> dict[str, Any]:
    """Version 1 from the job's timeline; a later one from the version before it, corrected, with
    every signature on the timeline by now."""
    entries = await timeline.entries_of(runtime, pending["job_id"])
    if pending["version"] == 1:
        return domain.build_record(pending["job_id"], entries)
    previous = await store.published_version(runtime, pending["record_id"], pending["version"] - 1)
    if previous is None:
        raise domain.MissingFacts("the previous version is not published yet")
    return domain.next_content(previous["content"], pending.get("correction"), domain.signatures_of(entries))


async def signature_images(runtime: ReportingRuntime, signatures: list[dict[str, Any]]) -> dict[str, bytes]:
    """Each signature's image that is in the store and matches its SHA-256, by signature id. A
    missing or altered image is left out (the report says so) rather than holding the report back;
    a store that does not answer raises, and the version is retried."""
    images = {}
    for signature in signatures:
        image = signature["image"]
        try:
            data = await asyncio.to_thread(_read_object, runtime, image["bucket"], image["object_key"])
        except S3Error as error:
            if error.code not in ("NoSuchKey", "NoSuchBucket", "NoSuchVersion"):
                raise
            log.warning(
                "signature %s: no image at %s/%s", signature["signature_id"], image["bucket"], image["object_key"]
            )
            continue
        if hashlib.sha256(data).hexdigest() != image["sha256"] or not _is_image(data):
            log.warning("signature %s: the image does not match its SHA-256", signature["signature_id"])
            continue
        images[signature["signature_id"]] = data
    return images


def _read_object(runtime: ReportingRuntime, bucket: str, key: str) -> bytes:
    response = runtime.objects.client.get_object(bucket, key)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def _is_image(data: bytes) -> bool:
    try:
        ImageReader(io.BytesIO(data)).getSize()
    except Exception:
        return False
    return True


async def store_report(runtime: ReportingRuntime, pending: dict[str, Any], key: str, pdf: bytes) -> dict[str, Any]:
    """The PDF stored under its key; its description as the record keeps it (with the object version)."""
    checksum = hashlib.sha256(pdf).hexdigest()
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
    stored = StoredObject(
        bucket=runtime.objects.bucket(REPORTS_BUCKET),
        object_key=key,
        sha256=checksum,
        size_bytes=len(pdf),
        content_type=PDF,
    )
    return {**stored.model_dump(), "object_version": object_version, "metadata": metadata}


async def publish_version(runtime: ReportingRuntime, pending: dict[str, Any]) -> int:
    content = await content_of(runtime, pending)
    images = await signature_images(runtime, content["signatures"])
    content = {
        **content,
        "signatures": [{**s, "image_verified": s["signature_id"] in images} for s in content["signatures"]],
    }
    record = {**pending, "content": content}
    passed_at = content["dates"]["inspection_passed_at"]
    reports = {}
    for language in LANGUAGES:
        pdf = render_report(record, language, images)
        key = domain.report_key(pending["job_id"], pending["version"], passed_at, language)
        reports[language.value] = await store_report(runtime, pending, key, pdf)
    language = domain.report_language(content)
    report = reports[language.value]
    cause = parse_event(pending["cause"]) if pending.get("cause") else None
    published_at = runtime.clock.now()

    async def commit(uow: UnitOfWork) -> int:
        published = {
            "content": content,
            "language": language.value,
            "report": report,
            "reports": reports,
            "published_at": published_at,
        }
        if not await store.mark_published(uow, pending["_id"], published):
            return 0  # another replica published it, the job was cancelled, or a signature came meanwhile
        await uow.publish(
            JobReportPublished(
                job_id=pending["job_id"],
                record_id=pending["record_id"],
                record_version=pending["version"],
                report=StoredObject.model_validate({k: report[k] for k in StoredObject.model_fields}),
                outcome=domain.outcome(content),
            ),
            cause=cause,
            correlation_id=pending.get("correlation_id"),
        )
        return 1

    published = await runtime.outbox.transact(commit)
    if not published and await store.is_pending(runtime, pending["_id"]):
        # A signature arrived while it was rendered: render it again with the signature, next round.
        await store.release(runtime, pending["_id"], "a signature arrived while it was rendered")
    return published
