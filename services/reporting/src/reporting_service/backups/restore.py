"""`python -m reporting_service restore <backup-id> --into <database>`: restore a backup and
verify every collection's document count and checksums against the manifest."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from minio import Minio

from reporting_service.backups import domain
from reporting_service.backups.store import BACKUP_BUCKET, ServerDatabases
from reporting_service.settings import ReportingSettings


class RestoreFailed(Exception):
    """The restore could not be done, or what it restored differs from the manifest."""


def store_of(settings: ReportingSettings) -> Minio:
    return Minio(
        settings.s3_endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
    )


def load_manifest(store: Minio, bucket: str, backup_id: str) -> dict[str, Any]:
    response = store.get_object(bucket, domain.manifest_key(backup_id))
    try:
        manifest: dict[str, Any] = json.loads(response.read())
        return manifest
    finally:
        response.close()
        response.release_conn()


def target_name(into: str, database: str, several: bool) -> str:
    if "{database}" in into:
        return into.replace("{database}", database)
    if several:
        raise RestoreFailed("the backup has several databases: put {database} in --into, e.g. 'restored_{database}'")
    return into


def restore(
    settings: ReportingSettings,
    backup_id: str,
    into: str,
    *,
    databases: list[str] | None = None,
    drop: bool = False,
) -> dict[str, Any]:
    """Restore and verify; returns the report. Raises RestoreFailed when anything does not match."""
    store = store_of(settings)
    bucket = settings.bucket(BACKUP_BUCKET)
    manifest = load_manifest(store, bucket, backup_id)
    chosen = [d for d in manifest["databases"] if not databases or d["database"] in databases]
    if not chosen:
        raise RestoreFailed(f"backup {backup_id} has none of the databases {databases}")
    report: dict[str, Any] = {"backup_id": backup_id, "databases": [], "verified": True}
    with ServerDatabases(settings.mongodb_url.get_secret_value()) as server:
        for entry in chosen:
            target = target_name(into, entry["database"], len(chosen) > 1)
            existing = server.existing(target)
            clashing = [c["name"] for c in entry["collections"] if c["name"] in existing]
            if clashing and not drop:
                raise RestoreFailed(f"{target} already has {', '.join(clashing)}; use --drop to replace them")
            restored = []
            for collection in entry["collections"]:
                count, archive_sha, content_sha = server.restore(target, collection, store, bucket)
                checks = {
                    "documents": count == collection["documents"],
                    "archive_sha256": archive_sha == collection["archive_sha256"],
                    "content_sha256": content_sha == collection["content_sha256"],
                }
                restored.append({"collection": collection["name"], "documents": count, "checks": checks})
                report["verified"] = report["verified"] and all(checks.values())
            report["databases"].append({"database": entry["database"], "into": target, "collections": restored})
    if not report["verified"]:
        raise RestoreFailed("verification failed: " + json.dumps(report, default=str))
    return report


def main(argv: list[str], settings: ReportingSettings) -> int:
    parser = argparse.ArgumentParser(prog="python -m reporting_service restore", description=__doc__)
    parser.add_argument("backup_id")
    parser.add_argument("--into", required=True, help="target database; '{database}' stands for each source name")
    parser.add_argument("--database", action="append", help="restore only this source database (repeatable)")
    parser.add_argument("--drop", action="store_true", help="replace collections that already exist in the target")
    args = parser.parse_args(argv)
    try:
        report = restore(settings, args.backup_id, args.into, databases=args.database, drop=args.drop)
    except RestoreFailed as exc:
        print(f"restore failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0
