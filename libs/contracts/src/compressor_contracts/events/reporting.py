"""Events published by reporting: the maintenance record and report (phase 7), backups."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from compressor_contracts.common import ContractModel, Identifier, ServiceOutcome, ShortText, StoredObject, Text
from compressor_contracts.envelope import EventData, JobEventData


class BackupTrigger(StrEnum):
    SCHEDULED = "scheduled"
    ON_DEMAND = "on_demand"


class BackupDatabase(ContractModel):
    """One database exported into a backup."""

    database: ShortText = Field(description="Database name.")
    collections: int = Field(ge=0, description="Number of collections exported.")
    documents: int = Field(ge=0, description="Number of documents exported.")


class JobReportPublished(JobEventData):
    """The maintenance record was stored and its report PDF is in object storage. A correction is a
    new record version and a new event; earlier versions stay."""

    name: ClassVar[str] = "job.report_published"
    producer: ClassVar[str] = "reporting"
    phase: ClassVar[int | None] = 7

    record_id: Identifier = Field(description="Maintenance record id in the records database.")
    record_version: int = Field(ge=1, le=1000, description="Record version, from 1; a correction increments it.")
    report: StoredObject = Field(description="The report PDF (key by year/month/job/version) with its SHA-256.")
    outcome: ServiceOutcome = Field(description="Summary of the record: cause, repair, parts, hours, commitment kept.")


class BackupCompleted(EventData):
    """A backup of every service database is complete and verified in object storage."""

    name: ClassVar[str] = "backup.completed"
    producer: ClassVar[str] = "reporting"
    phase: ClassVar[int | None] = None
    subject_field: ClassVar[str] = "backup_id"

    backup_id: Identifier = Field(description="Backup id; equal to the envelope subject.")
    trigger: BackupTrigger = Field(description="Schedule or on-demand request.")
    started_at: AwareDatetime = Field(description="When the backup started.")
    manifest: StoredObject = Field(description="The manifest (collections, counts, checksums).")
    databases: list[BackupDatabase] = Field(min_length=1, max_length=100, description="What was exported.")
    total_bytes: int = Field(ge=0, description="Compressed size of all archives.")


class BackupFailed(EventData):
    """A backup failed; nothing of it is marked complete."""

    name: ClassVar[str] = "backup.failed"
    producer: ClassVar[str] = "reporting"
    phase: ClassVar[int | None] = None
    subject_field: ClassVar[str] = "backup_id"

    backup_id: Identifier = Field(description="Backup id; equal to the envelope subject.")
    trigger: BackupTrigger = Field(description="Schedule or on-demand request.")
    started_at: AwareDatetime = Field(description="When the backup started.")
    stage: ShortText = Field(description="Where it failed, e.g. 'export intake', 'upload'.")
    error: Text = Field(description="The error.")
