"""Composition root of the reporting service: everything it serves, consumes and stores, wired once."""

from compressor_kit.periodic import periodic
from compressor_kit.runtime import ServiceDefinition
from reporting_service.backups import api as backups_api
from reporting_service.backups import service as backups
from reporting_service.backups.metrics import backup_metrics
from reporting_service.backups.store import BACKUP_BUCKET
from reporting_service.backups.store import INDEXES as BACKUP_INDEXES
from reporting_service.kpis import api as kpis_api
from reporting_service.records import api as records_api
from reporting_service.records.archive import ARCHIVE_BUCKET, archive_old_records
from reporting_service.records.publisher import publish_due_reports
from reporting_service.records.store import INDEXES as RECORD_INDEXES
from reporting_service.records.store import REPORTS_BUCKET
from reporting_service.records.versioning import enable_report_versioning
from reporting_service.settings import ReportingSettings
from reporting_service.timeline import api as timeline_api
from reporting_service.timeline import consumers as timeline_consumers
from reporting_service.timeline.store import INDEXES as TIMELINE_INDEXES

SERVICE = ServiceDefinition(
    name="reporting",
    default_port=8005,
    description="Phase 7: maintenance records and reports, job timelines, KPIs, backups and archives.",
    settings_type=ReportingSettings,
    route_handlers=[
        timeline_api.get_timeline,
        timeline_api.list_jobs,
        records_api.get_job_record,
        records_api.get_report_link,
        records_api.correct_record,
        records_api.archive_records,
        kpis_api.get_kpis,
        backups_api.start_backup,
        backups_api.list_backups,
        backups_api.get_backup,
        backups_api.apply_retention,
    ],
    # One queue: each event is kept in the timeline, and changes the job's record, in one transaction.
    consumers=[timeline_consumers.consumers],
    indexes={**TIMELINE_INDEXES, **RECORD_INDEXES, **BACKUP_INDEXES},
    buckets=[REPORTS_BUCKET, ARCHIVE_BUCKET, BACKUP_BUCKET],
    background_jobs=[
        enable_report_versioning,
        periodic(lambda settings: settings.report_publish_interval_seconds, publish_due_reports),
        periodic(backups.schedule_check_seconds, backups.scheduled_backup),
        periodic(lambda settings: settings.archive_interval_seconds, archive_old_records),
    ],
    metrics=[backup_metrics],
)
