"""Backups, restore, retention and archiving against the real MongoDB, object store and broker."""

import gzip
import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from bson import Binary, Decimal128, ObjectId
from bson.raw_bson import RawBSONDocument
from litestar.testing import AsyncTestClient
from pymongo import ASCENDING, MongoClient

from compressor_kit.clock import ManualClock
from compressor_kit.http import create_app
from compressor_kit.objectstore import ObjectStore
from compressor_kit.testing import eventually
from compressor_kit.testing.events import EventTap, publish_events
from reporting_service.app import SERVICE

from .reporting_story import Job, settings_for

BUCKETS = ["reports", "archive", "backups"]


@pytest.fixture
def source_databases(test_settings):
    """Two service-like databases with varied documents and indexes; dropped afterwards."""
    names = [f"{test_settings.mongodb_database}_intake", f"{test_settings.mongodb_database}_quality"]
    with MongoClient(test_settings.mongodb_url.get_secret_value(), tz_aware=True) as client:
        intake, quality = client[names[0]], client[names[1]]
        intake.jobs.insert_many(
            [
                {
                    "_id": f"JOB-{i:04d}",
                    "requested_at": datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=i),
                    "priority": ["high", "low"][i % 2],
                    "equipment": {"model_code": "AC-GA37VSD", "running_hours": 23_000 + i},
                    "price": Decimal128(Decimal("1234.50")),
                    "photo": Binary(os.urandom(64)),
                    "tags": ["a", {"nested": [1, 2.5, None]}],
                }
                for i in range(1500)  # more than one insert batch
            ]
        )
        intake.jobs.create_index([("priority", ASCENDING), ("requested_at", ASCENDING)], name="by_priority")
        intake.customers.insert_one({"_id": ObjectId(), "name": "Seri Murni Foods Sdn Bhd"})
        intake.create_collection("empty")
        quality.inspections.insert_many([{"_id": i, "passed": i % 3 != 0} for i in range(10)])
        quality.inspections.create_index("passed", name="by_passed")
        yield names
        for name in names:
            client.drop_database(name)


def snapshot(client: MongoClient, name: str) -> dict[str, list[bytes]]:
    db = client.get_database(name, codec_options=client.codec_options.with_options(document_class=RawBSONDocument))
    return {c: [d.raw for d in db[c].find().sort("_id", ASCENDING)] for c in sorted(db.list_collection_names())}


async def test_backup_drop_and_restore_gives_every_document_back_verified_against_the_manifest(
    test_settings, source_databases, tokens
):
    url = test_settings.rabbitmq_url.get_secret_value()
    settings = settings_for(test_settings, backup_databases=",".join(source_databases))
    app = create_app(SERVICE, settings)
    async with AsyncTestClient(app) as client, EventTap(url, "backup.*.v1") as tap:
        admin = {"Authorization": f"Bearer {tokens.mint('u-admin-1', ['admin'])}"}
        started = await client.post("/backups", headers=admin)
        assert started.status_code == 202, started.text
        backup_id = started.json()["backup_id"]

        async def finished():
            body = (await client.get(f"/backups/{backup_id}", headers=admin)).json()
            return body["status"] != "running" and body

        backup = await eventually(finished, timeout=60)
        [completed] = await tap.take(1, timeout=20)
        engineer = await client.post("/backups", headers={"Authorization": f"Bearer {tokens.mint('E', ['engineer'])}"})

    assert backup["status"] == "completed", backup
    assert engineer.status_code == 403
    assert completed.type.endswith("backup.completed.v1") and completed.subject == backup_id
    assert {d.database: d.documents for d in completed.data.databases} == {
        source_databases[0]: 1501,
        source_databases[1]: 10,
    }

    store = ObjectStore(settings, BUCKETS)
    manifest_bytes = await store.get_bytes("backups", backup["manifest"]["object_key"])
    assert hashlib.sha256(manifest_bytes).hexdigest() == backup["manifest"]["sha256"]
    manifest = json.loads(manifest_bytes)
    jobs = next(c for d in manifest["databases"] for c in d["collections"] if c["name"] == "jobs")
    archive = await store.get_bytes("backups", jobs["archive_key"])
    assert hashlib.sha256(archive).hexdigest() == jobs["archive_sha256"]
    assert gzip.decompress(archive)[:4] != b""  # a real gzip archive
    assert jobs["documents"] == 1500

    with MongoClient(settings.mongodb_url.get_secret_value(), tz_aware=True) as mongo:
        before = {name: snapshot(mongo, name) for name in source_databases}
        for name in source_databases:
            mongo.drop_database(name)
        env = {
            **os.environ,
            "S3_BUCKET_PREFIX": settings.s3_bucket_prefix,
            "MONGODB_URL": settings.mongodb_url.get_secret_value(),
        }
        restored = subprocess.run(
            [sys.executable, "-m", "reporting_service", "restore", backup_id, "--into", "{database}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert restored.returncode == 0, restored.stderr
        report = json.loads(restored.stdout)
        after = {name: snapshot(mongo, name) for name in source_databases}
        indexes = mongo[source_databases[0]].jobs.index_information()
        again = subprocess.run(
            [sys.executable, "-m", "reporting_service", "restore", backup_id, "--into", "{database}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    assert report["verified"] is True
    assert all(all(c["checks"].values()) for d in report["databases"] for c in d["collections"])
    assert after == before  # every document byte for byte, every collection (the empty one too)
    assert indexes["by_priority"]["key"] == [("priority", 1), ("requested_at", 1)]
    assert again.returncode == 1 and "--drop" in again.stderr  # never overwrites silently


async def test_a_backup_with_the_object_store_down_publishes_backup_failed_and_completes_nothing(
    test_settings, test_db, source_databases, tokens
):
    url = test_settings.rabbitmq_url.get_secret_value()
    settings = settings_for(test_settings, backup_databases=",".join(source_databases))
    app = create_app(SERVICE, settings)
    runtime = app.state.runtime
    async with AsyncTestClient(app) as client, EventTap(url, "backup.*.v1") as tap:
        working = runtime.objects
        runtime.objects = ObjectStore(settings.model_copy(update={"s3_endpoint": "127.0.0.1:9"}), BUCKETS)
        admin = {"Authorization": f"Bearer {tokens.mint('u-admin-1', ['admin'])}"}
        backup_id = (await client.post("/backups", headers=admin)).json()["backup_id"]

        async def finished():
            body = (await client.get(f"/backups/{backup_id}", headers=admin)).json()
            return body["status"] != "running" and body

        backup = await eventually(finished, timeout=60)
        [failed] = await tap.take(1, timeout=20)
        runtime.objects = working

    assert backup["status"] == "failed" and backup["stage"].startswith("export")
    assert failed.type.endswith("backup.failed.v1") and failed.data.backup_id == backup_id
    assert test_db.backups.count_documents({"status": "completed"}) == 0
    store = ObjectStore(settings, BUCKETS)
    assert list(store.client.list_objects(store.bucket("backups"), recursive=True)) == []


async def test_retention_deletes_exactly_the_expired_backups(test_settings, test_db, tokens):
    settings = settings_for(test_settings, backup_keep_daily=2, backup_keep_monthly=2)
    started = {
        "BK-keep-today": datetime(2026, 3, 10, 14, tzinfo=UTC),
        "BK-old-today": datetime(2026, 3, 10, 2, tzinfo=UTC),
        "BK-keep-yesterday": datetime(2026, 3, 9, 2, tzinfo=UTC),
        "BK-old-day": datetime(2026, 3, 8, 2, tzinfo=UTC),
        "BK-keep-february": datetime(2026, 2, 27, 2, tzinfo=UTC),
        "BK-old-february": datetime(2026, 2, 26, 2, tzinfo=UTC),
        "BK-old-january": datetime(2026, 1, 31, 2, tzinfo=UTC),
    }
    app = create_app(SERVICE, settings)
    async with AsyncTestClient(app) as client:
        store = ObjectStore(settings, BUCKETS)
        for backup_id, at in started.items():
            test_db.backups.insert_one(
                {"_id": backup_id, "status": "completed", "trigger": "scheduled", "started_at": at}
            )
            for key in ("manifest.json", "intake/jobs.bson.gz"):
                await store.put_bytes("backups", f"backups/{backup_id}/{key}", b"x", "application/octet-stream")
        test_db.backups.insert_one(
            {"_id": "BK-failed", "status": "failed", "started_at": datetime(2025, 1, 1, tzinfo=UTC)}
        )
        manager = {"Authorization": f"Bearer {tokens.mint('u-manager-1', ['manager'])}"}
        response = await client.post("/backups/retention", headers=manager)

    expired = {"BK-old-today", "BK-old-day", "BK-old-february", "BK-old-january"}
    assert set(response.json()["expired"]) == expired
    remaining = {
        o.object_name.split("/")[1] for o in store.client.list_objects(store.bucket("backups"), recursive=True)
    }
    assert remaining == set(started) - expired
    assert {b["_id"] for b in test_db.backups.find({"status": "expired"})} == expired
    assert test_db.backups.find_one({"_id": "BK-failed"})["status"] == "failed"


async def test_archiving_moves_exactly_the_old_records_and_they_stay_retrievable(test_settings, test_db, tokens):
    url = test_settings.rabbitmq_url.get_secret_value()
    clock = ManualClock(datetime(2026, 3, 3, tzinfo=UTC))
    app = create_app(SERVICE, settings_for(test_settings, archive_after_days=365), clock=clock)
    old, recent = Job("JOB-OLD", rounds=1), Job("JOB-RECENT", rounds=1)
    async with AsyncTestClient(app) as client:
        await publish_events(url, *old.build())

        async def published(job_id):
            return test_db.records.find_one({"job_id": job_id, "status": "published"})

        old_record = await eventually(lambda: published("JOB-OLD"), timeout=30)
        clock.advance(timedelta(days=200))
        await publish_events(url, *recent.build())
        await eventually(lambda: published("JOB-RECENT"), timeout=30)
        clock.advance(timedelta(days=200))  # the old record is 400 days old, the recent one 200

        manager = {"Authorization": f"Bearer {tokens.mint('u-manager-1', ['manager'])}"}
        moved = await client.post("/archive/records", headers=manager)
        from_archive = await client.get("/jobs/JOB-OLD/record", headers=manager)
        link = await client.get("/jobs/JOB-OLD/report-link", headers=manager)

    assert moved.json()["archived"] == [old_record["record_id"]]
    assert test_db.records.count_documents({"job_id": "JOB-OLD"}) == 0
    assert test_db.records.count_documents({"job_id": "JOB-RECENT"}) == 1
    stub = test_db.archived_records.find_one({"job_id": "JOB-OLD"})
    store = ObjectStore(test_settings, BUCKETS)
    archived = json.loads(await store.get_bytes("archive", stub["object_key"]))
    assert stub["object_key"].startswith("records/") and archived["record_id"] == old_record["record_id"]
    assert from_archive.status_code == 200, from_archive.text
    body = from_archive.json()
    assert body["archived"] is True and body["report"]["sha256"] == old_record["report"]["sha256"]
    assert body["content"]["root_cause"] == old_record["content"]["root_cause"]
    assert link.status_code == 200


async def test_the_scheduled_backup_runs_every_interval(test_settings, test_db, source_databases):
    settings = settings_for(test_settings, backup_databases=source_databases[1], backup_interval_seconds=1)
    app = create_app(SERVICE, settings)
    async with AsyncTestClient(app):

        async def scheduled_backup_completed():
            return test_db.backups.find_one({"trigger": "scheduled", "status": "completed"})

        backup = await eventually(scheduled_backup_completed, timeout=30)

    assert backup["databases"] == [{"database": source_databases[1], "collections": 1, "documents": 10}]


async def test_a_backup_interrupted_by_a_dead_process_is_failed_and_never_completed(test_settings, test_db):
    url = test_settings.rabbitmq_url.get_secret_value()
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    test_db.backups.insert_many(
        [
            {"_id": "BK-dead", "status": "running", "trigger": "scheduled", "started_at": now - timedelta(hours=7)},
            {"_id": "BK-busy", "status": "running", "trigger": "on_demand", "started_at": now - timedelta(minutes=5)},
        ]
    )
    app = create_app(SERVICE, settings_for(test_settings), clock=ManualClock(now))
    # Tapped before the app starts: the stale backup is failed (and announced) right at start-up.
    async with EventTap(url, "backup.*.v1") as tap, AsyncTestClient(app):

        async def failed():
            return test_db.backups.find_one({"_id": "BK-dead", "status": "failed"})

        backup = await eventually(failed, timeout=30)
        [event] = await tap.take(1, timeout=20)

    assert backup["stage"] == "interrupted"
    assert event.data.backup_id == "BK-dead"
    assert test_db.backups.find_one({"_id": "BK-busy"})["status"] == "running"
