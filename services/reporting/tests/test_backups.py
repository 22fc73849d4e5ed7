"""Backups, restore, retention and archiving against the real MongoDB, object store and broker."""

import asyncio
import gzip
import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from bson import Binary, Decimal128, ObjectId, Timestamp
from bson.raw_bson import RawBSONDocument
from litestar.testing import AsyncTestClient
from pymongo import ASCENDING, MongoClient

from compressor_contracts import service_topology
from compressor_contracts.examples import example
from compressor_kit.clock import ManualClock
from compressor_kit.http import create_app
from compressor_kit.messaging import build_broker, declare_topology, outbox_publisher, register_publishers
from compressor_kit.mongo import create_client
from compressor_kit.objectstore import ObjectStore
from compressor_kit.outbox import Outbox
from compressor_kit.relay import OutboxRelay
from compressor_kit.telemetry import setup_tracing
from compressor_kit.testing import eventually
from compressor_kit.testing.events import EventTap, publish_events
from reporting_service.app import SERVICE
from reporting_service.backups.restore import RestoreFailed, restore
from reporting_service.backups.store import ServerDatabases

from .reporting_story import Job, settings_for


async def commit_request(outbox, job_id):
    """A state change of intake's and its job.requested, committed together (pending in the outbox)."""

    async def work(uow):
        await uow.db.requests.insert_one({"_id": job_id}, session=uow.session)
        data = example("job.requested.v1").model_copy(update={"job_id": job_id})
        return (await uow.publish(data)).id

    return await outbox.transact(work)


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


async def test_a_backup_interrupted_by_a_dead_process_is_failed_and_never_completed(test_settings, test_db, tokens):
    url = test_settings.rabbitmq_url.get_secret_value()
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    test_db.backups.insert_one(
        {"_id": "BK-dead", "status": "running", "trigger": "scheduled", "started_at": now - timedelta(hours=7)}
    )
    app = create_app(SERVICE, settings_for(test_settings), clock=ManualClock(now))
    # Tapped before the app starts: the stale backup is failed (and announced) right at start-up.
    async with EventTap(url, "backup.*.v1") as tap, AsyncTestClient(app) as client:

        async def failed():
            return test_db.backups.find_one({"_id": "BK-dead", "status": "failed"})

        backup = await eventually(failed, timeout=30)
        [event] = await tap.take(1, timeout=20)
        # The dead backup no longer holds the one-backup-at-a-time lock.
        admin = {"Authorization": f"Bearer {tokens.mint('u-admin-1', ['admin'])}"}
        started = await client.post("/backups", headers=admin)

    assert backup["stage"] == "interrupted"
    assert event.data.backup_id == "BK-dead"
    assert started.status_code == 202, started.text


async def test_two_backups_started_at_once_on_two_replicas_one_runs_the_other_is_refused_409(
    test_settings, test_db, source_databases, tokens
):
    settings = settings_for(test_settings, backup_databases=source_databases[1])
    first, second = create_app(SERVICE, settings), create_app(SERVICE, settings)
    admin = {"Authorization": f"Bearer {tokens.mint('u-admin-1', ['admin'])}"}
    async with AsyncTestClient(first) as one, AsyncTestClient(second) as other:
        answers = await asyncio.gather(one.post("/backups", headers=admin), other.post("/backups", headers=admin))
        [started] = [a for a in answers if a.status_code == 202]
        [refused] = [a for a in answers if a.status_code != 202]
        backup_id = started.json()["backup_id"]

        async def finished():
            body = (await one.get(f"/backups/{backup_id}", headers=admin)).json()
            return body["status"] != "running" and body

        backup = await eventually(finished, timeout=60)
        after = await other.post("/backups", headers=admin)  # the lock is free again
        await eventually(lambda: finished_backup(test_db, after.json()["backup_id"]), timeout=60)

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert backup_id in problem["detail"] and problem["running_backup_id"] == backup_id
    assert backup["status"] == "completed"
    assert test_db.backups.count_documents({}) == 2  # the refused start recorded nothing
    assert after.status_code == 202, after.text


async def finished_backup(db, backup_id):
    return db.backups.find_one({"_id": backup_id, "status": {"$ne": "running"}})


ADMIN_ID = "u-admin-1"


async def backed_up(app, tokens):
    """One backup through the API, completed; the backup and its manifest."""
    admin = {"Authorization": f"Bearer {tokens.mint(ADMIN_ID, ['admin'])}"}
    async with AsyncTestClient(app) as client:
        started = await client.post("/backups", headers=admin)
        assert started.status_code == 202, started.text
        backup_id = started.json()["backup_id"]

        async def finished():
            body = (await client.get(f"/backups/{backup_id}", headers=admin)).json()
            return body["status"] != "running" and body

        backup = await eventually(finished, timeout=60)
    assert backup["status"] == "completed", backup
    store = ObjectStore(app.state.runtime.settings, BUCKETS)
    return backup, json.loads(await store.get_bytes("backups", backup["manifest"]["object_key"]))


async def test_a_backup_is_one_point_in_time_even_when_writes_happen_between_its_collections(
    test_settings, test_db, source_databases, tokens, monkeypatch
):
    """A job changes state and records its event (outbox) while the backup is between the two collections:
    the backup has neither the change nor the event, and its manifest names the cluster time it read at."""
    name = source_databases[1]
    with MongoClient(test_settings.mongodb_url.get_secret_value(), tz_aware=True) as mongo:
        mongo[name].jobs.insert_one({"_id": "JOB-1", "stage": "assigned"})
        mongo[name].outbox.insert_one({"_id": "EV-1", "status": "published", "subject": "JOB-1"})

        export = ServerDatabases.export

        def write_between(server, database, collection, *args):
            if (database, collection) == (name, "outbox"):  # inspections and jobs are read already
                mongo[name].jobs.update_one({"_id": "JOB-1"}, {"$set": {"stage": "in_progress"}})
                mongo[name].outbox.insert_one({"_id": "EV-2", "status": "pending", "subject": "JOB-1"})
                mongo[name].inspections.insert_one({"_id": 999, "passed": True})
            return export(server, database, collection, *args)

        monkeypatch.setattr(ServerDatabases, "export", write_between)
        before = datetime.now(UTC)
        app = create_app(SERVICE, settings_for(test_settings, backup_databases=name))
        backup, manifest = await backed_up(app, tokens)
        settings = settings_for(test_settings)
        report = restore(settings, backup["backup_id"], f"{name}_restored")
        try:
            restored = mongo[f"{name}_restored"]
            jobs, events = list(restored.jobs.find()), list(restored.outbox.find())
            inspections = restored.inspections.count_documents({})
        finally:
            mongo.drop_database(f"{name}_restored")

    cluster_time = Timestamp(manifest["cluster_time"]["t"], manifest["cluster_time"]["i"])
    assert before.timestamp() - 1 <= cluster_time.time <= datetime.now(UTC).timestamp() + 1
    assert report["cluster_time"] == manifest["cluster_time"]
    assert jobs == [{"_id": "JOB-1", "stage": "assigned"}]
    assert [e["_id"] for e in events] == ["EV-1"]
    assert inspections == 10
    counts = {c["name"]: c["documents"] for d in manifest["databases"] for c in d["collections"]}
    assert counts == {"inspections": 10, "jobs": 1, "outbox": 1}


async def test_a_restore_that_fails_midway_leaves_the_live_data_exactly_as_it_was(
    test_settings, test_db, source_databases, tokens
):
    app = create_app(SERVICE, settings_for(test_settings, backup_databases=",".join(source_databases)))
    backup, manifest = await backed_up(app, tokens)
    settings = settings_for(test_settings)
    store = ObjectStore(settings, BUCKETS)
    # The jobs archive loses its end: the restore reads and inserts the first batches, then fails.
    jobs = next(c for d in manifest["databases"] for c in d["collections"] if c["name"] == "jobs")
    archive = await store.get_bytes("backups", jobs["archive_key"])
    await store.put_bytes("backups", jobs["archive_key"], archive[: len(archive) * 3 // 4], "application/gzip")
    with MongoClient(settings.mongodb_url.get_secret_value(), tz_aware=True) as mongo:
        # The live data moved on since the backup: none of it may be lost.
        mongo[source_databases[0]].jobs.insert_one({"_id": "JOB-LIVE", "priority": "high"})
        mongo[source_databases[0]].customers.delete_many({})
        before = {name: snapshot(mongo, name) for name in source_databases}

        with pytest.raises(EOFError):
            restore(settings, backup["backup_id"], "{database}", drop=True)
        after = {name: snapshot(mongo, name) for name in source_databases}

    assert after == before  # every collection, the ones restored before jobs too, and nothing staged left
    assert len(before[source_databases[0]]["jobs"]) == 1501


async def test_a_restore_that_does_not_verify_replaces_nothing(test_settings, test_db, source_databases, tokens):
    app = create_app(SERVICE, settings_for(test_settings, backup_databases=source_databases[1]))
    backup, manifest = await backed_up(app, tokens)
    settings = settings_for(test_settings)
    store = ObjectStore(settings, BUCKETS)
    manifest["databases"][0]["collections"][0]["content_sha256"] = "0" * 64  # what the backup promised
    key = backup["manifest"]["object_key"]
    await store.put_bytes("backups", key, json.dumps(manifest).encode(), "application/json")
    with MongoClient(settings.mongodb_url.get_secret_value(), tz_aware=True) as mongo:
        mongo[source_databases[1]].inspections.delete_many({"passed": False})
        before = snapshot(mongo, source_databases[1])
        with pytest.raises(RestoreFailed, match="verification failed"):
            restore(settings, backup["backup_id"], source_databases[1], drop=True)
        after = snapshot(mongo, source_databases[1])

    assert after == before and len(before["inspections"]) == 6


async def test_events_pending_in_a_restored_outbox_are_held_until_released(test_settings, test_db, tokens):
    """An event still pending when the backup was taken may have gone out since: after a restore the relay
    leaves it (held) until an admin releases it with `python -m reporting_service release-held`."""
    url = test_settings.rabbitmq_url.get_secret_value()
    intake_db = f"{test_settings.mongodb_database}_intake"
    client = create_client(test_settings)
    outbox = Outbox(client, client[intake_db], "intake")
    broker = build_broker(test_settings, "intake", setup_tracing("intake"))
    publish = outbox_publisher(register_publishers(broker, "intake"))
    await broker.connect()
    await declare_topology(broker, service_topology("intake"))
    relay = OutboxRelay(outbox, publish, poll_interval=0.05)
    try:
        pending = await commit_request(outbox, "JOB-PENDING")  # no relay yet: it stays pending
        app = create_app(SERVICE, settings_for(test_settings, backup_databases=intake_db))
        backup, _ = await backed_up(app, tokens)
        settings = settings_for(test_settings)
        report = restore(settings, backup["backup_id"], intake_db, drop=True)

        async with EventTap(url, "job.requested.v1") as tap:
            running = asyncio.create_task(relay.run())
            after_restore = await commit_request(outbox, "JOB-AFTER")  # the relay publishes in commit order
            [first] = await tap.take(1, timeout=20)
            held = await outbox.db.outbox.find_one({"_id": pending})
            env = {
                **os.environ,
                "S3_BUCKET_PREFIX": settings.s3_bucket_prefix,
                "MONGODB_URL": settings.mongodb_url.get_secret_value(),
            }
            listed = subprocess.run(
                [sys.executable, "-m", "reporting_service", "release-held", intake_db, "--list"],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
            )
            released = subprocess.run(
                [sys.executable, "-m", "reporting_service", "release-held", intake_db],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
            )
            outbox.committed.set()  # wake the relay now rather than at its next poll
            [second] = await tap.take(1, timeout=20)
            relay.stop()
            await running
    finally:
        await broker.stop()
        await client.drop_database(intake_db)
        await client.close()

    assert report["databases"][0]["held_events"] == 1
    assert first.id == after_restore  # the held event was older, yet the relay passed it by
    assert held["status"] == "held" and held["held_by_restore_of"] == backup["backup_id"]
    assert listed.returncode == 0 and pending in listed.stdout
    assert released.returncode == 0 and "released 1 held event" in released.stdout, released.stderr
    assert second.id == pending
