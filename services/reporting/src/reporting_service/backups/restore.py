"""Restoring a backup, and releasing the outbox events a restore held.

    python -m reporting_service restore <backup-id> --into <database> [--drop]
    python -m reporting_service release-held <database> [--event EVENT_ID ...]

A restore never leaves a collection half-restored: every collection is imported into `<name>.restoring`
beside the live one and verified against the manifest (document count, archive and content SHA-256);
only when every collection of the backup is verified does each replace its live collection in one
step (renameCollection with dropTarget). Any failure before that drops the staged copies and leaves
the live data exactly as it was.

Events that were still pending in a restored outbox were perhaps published after the backup was
taken: they are held (outbox status `held`, which the relay does not publish) until a person looks
at them and releases them with `release-held` (all, or by event id).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from minio import Minio

from reporting_service.backups import domain
from reporting_service.backups.store import BACKUP_BUCKET, OUTBOX, ServerDatabases
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
    """Restore and verify; returns the report. Raises RestoreFailed (or the error that stopped it) with the
    live data untouched when anything does not match or fails before the staged copies go live."""
    store = store_of(settings)
    bucket = settings.bucket(BACKUP_BUCKET)
    manifest = load_manifest(store, bucket, backup_id)
    chosen = [d for d in manifest["databases"] if not databases or d["database"] in databases]
    if not chosen:
        raise RestoreFailed(f"backup {backup_id} has none of the databases {databases}")
    targets = [(entry, target_name(into, entry["database"], len(chosen) > 1)) for entry in chosen]
    report: dict[str, Any] = {
        "backup_id": backup_id,
        "cluster_time": manifest.get("cluster_time"),
        "databases": [],
        "verified": True,
    }
    with ServerDatabases(settings.mongodb_url.get_secret_value()) as server:
        for entry, target in targets:
            existing = server.existing(target)
            clashing = [c["name"] for c in entry["collections"] if c["name"] in existing]
            if clashing and not drop:
                raise RestoreFailed(f"{target} already has {', '.join(clashing)}; use --drop to replace them")
        staged: list[tuple[str, str]] = []
        try:
            for entry, target in targets:
                restored = []
                for collection in entry["collections"]:
                    staged.append((target, collection["name"]))
                    count, archive_sha, content_sha = server.stage(target, collection, store, bucket)
                    checks = {
                        "documents": count == collection["documents"],
                        "archive_sha256": archive_sha == collection["archive_sha256"],
                        "content_sha256": content_sha == collection["content_sha256"],
                    }
                    restored.append({"collection": collection["name"], "documents": count, "checks": checks})
                    report["verified"] = report["verified"] and all(checks.values())
                held = 0
                if any(c["name"] == OUTBOX for c in entry["collections"]):
                    held = server.hold_pending_outbox(target, backup_id, datetime.now(UTC))
                report["databases"].append(
                    {"database": entry["database"], "into": target, "collections": restored, "held_events": held}
                )
            if not report["verified"]:
                raise RestoreFailed("verification failed, nothing replaced: " + json.dumps(report, default=str))
        except BaseException:
            for target, name in staged:
                server.discard_staged(target, [name])
            raise
        # Every collection verified: each replaces its live one in one step.
        for target, name in staged:
            server.go_live(target, name)
    return report


def release_held(settings: ReportingSettings, database: str, event_ids: list[str] | None) -> int:
    """Release held outbox events of `database` (these, or all) to the relay; how many were released."""
    with ServerDatabases(settings.mongodb_url.get_secret_value()) as server:
        return server.release_held(database, event_ids)


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
        print(f"restore failed, nothing replaced: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0


def release_main(argv: list[str], settings: ReportingSettings) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reporting_service release-held",
        description="List, then release to the outbox relay, the events a restore held in a database's outbox.",
    )
    parser.add_argument("database", help="the restored service database, e.g. compressor_intake")
    parser.add_argument("--event", action="append", help="release only this event id (repeatable)")
    parser.add_argument("--list", action="store_true", help="only list the held events")
    args = parser.parse_args(argv)
    if args.list:
        with ServerDatabases(settings.mongodb_url.get_secret_value()) as server:
            for event in server.held_events(args.database):
                print(json.dumps(event, default=str))
        return 0
    released = release_held(settings, args.database, args.event)
    print(f"released {released} held event(s) of {args.database} to the outbox relay")
    return 0
