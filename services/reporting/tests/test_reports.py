"""Phase 7 against the real RabbitMQ, MongoDB and object store: a job's events in, one record and
one report PDF out, exactly once, never published before the PDF is stored."""

import asyncio
import hashlib
import io

import httpx
from litestar.testing import AsyncTestClient
from pypdf import PdfReader

from compressor_contracts import new_event
from compressor_contracts.examples import example
from compressor_kit.http import create_app
from compressor_kit.objectstore import ObjectStore
from compressor_kit.testing import eventually
from compressor_kit.testing.events import EventTap, publish_events
from reporting_service.app import SERVICE

from .reporting_story import Job, settings_for

REPORT_PUBLISHED = "job.report_published.v1"
SEED_FIELDS = (
    "dates",
    "diagnosis",
    "plan",
    "steps_done",
    "parts_used",
    "root_cause",
    "repair_method",
    "labour_hours",
    "seconds_per_phase",
    "engineer",
    "rounds",
    "commitment",
    "arrive_by_met",
    "resolve_by_met",
)


def published_records(test_db, job_id):
    return list(test_db.records.find({"job_id": job_id, "status": "published"}))


async def test_a_jobs_events_yield_one_record_and_one_pdf_with_the_checksum_and_a_working_link(
    test_settings, test_db, tokens
):
    url = test_settings.rabbitmq_url.get_secret_value()
    settings = settings_for(test_settings)
    job = Job("JOB-R-1")
    app = create_app(SERVICE, settings)
    async with AsyncTestClient(app) as client, EventTap(url, REPORT_PUBLISHED) as tap:
        await publish_events(url, *job.build())

        async def published():
            return published_records(test_db, job.job_id)

        [record] = await eventually(published, timeout=30)
        [event] = await tap.take(1, timeout=20)

        staff = {"Authorization": f"Bearer {tokens.mint('u-manager-1', ['manager'])}"}
        link = await client.get(f"/jobs/{job.job_id}/report-link", headers=staff)
        assert link.status_code == 200, link.text
        download = httpx.get(link.json()["url"])
        view = await client.get(f"/jobs/{job.job_id}/record", headers=staff)

    content = record["content"]
    for name in SEED_FIELDS:
        assert content.get(name) is not None, name
    assert content["root_cause"] == job.root_cause
    assert content["labour_hours"] == 5.5
    assert content["inspection_rounds"] == 2
    assert [r["inspection"]["passed"] for r in content["rounds"]] == [False, True]
    assert all(
        i["max_limit"] is not None or i["min_limit"] is not None
        for i in content["rounds"][0]["inspection"]["indicators"]
    )
    assert content["arrive_by_met"] is True and content["resolve_by_met"] is True
    assert content["dates"]["requested_at"] == job.at(0)
    assert content["engineer"]["engineer_id"] == "ENG-014"

    report = record["report"]
    assert report["object_key"] == f"2026/03/{job.job_id}/v1/en/report.pdf"  # the contact reads English
    assert report["content_type"] == "application/pdf"
    store = ObjectStore(settings, ["reports"])
    pdf = await store.get_bytes("reports", report["object_key"])
    assert hashlib.sha256(pdf).hexdigest() == report["sha256"]
    stat = store.client.stat_object(store.bucket("reports"), report["object_key"])
    assert stat.content_type == "application/pdf"
    assert stat.metadata["x-amz-meta-sha256"] == report["sha256"]

    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert job.job_id in text
    assert "Thermostatic valve stuck open" in text
    for part in ("1622-3600-00", "1625-4800-00", "2901-0522-00"):
        assert part in text
    assert "Discharge temperature" in text and "104" in text and "91" in text  # both rounds against limits

    assert event.data.record_id == record["record_id"]
    assert event.data.report.object_key == report["object_key"]
    assert event.data.report.sha256 == report["sha256"]
    assert event.correlationid == job.events[0].id

    assert download.status_code == 200 and download.content == pdf
    assert link.json()["object_version"] == record["report"]["object_version"] != ""  # the exact version
    assert view.json()["record_id"] == record["record_id"]


async def test_duplicate_events_yield_one_record_and_one_report(test_settings, test_db):
    url = test_settings.rabbitmq_url.get_secret_value()
    job = Job("JOB-R-2", rounds=1)
    events = job.build()
    app = create_app(SERVICE, settings_for(test_settings))
    async with AsyncTestClient(app), EventTap(url, REPORT_PUBLISHED) as tap:
        await publish_events(url, *events)
        await publish_events(url, *events)  # every event delivered twice, the pass included

        async def published():
            return published_records(test_db, job.job_id)

        await eventually(published, timeout=30)

        async def all_handled():
            # each event once, and the report reporting published itself (it is on the timeline too)
            return test_db.inbox.count_documents({"_id": {"$regex": "^reporting.timeline"}}) == len(events) + 1

        await eventually(all_handled, timeout=30)
        await tap.take(1, timeout=20)
        await asyncio.sleep(1.0)  # settle: a second report would follow within a few publisher rounds (0.2 s)
        again = await tap.rest()

    assert test_db.records.count_documents({"job_id": job.job_id}) == 1
    assert test_db.timeline_events.count_documents({"job_id": job.job_id}) == len(events) + 1
    assert test_db.inbox.count_documents({}) == len(events) + 1  # one handling (one transaction) per event
    assert again == []
    [record] = published_records(test_db, job.job_id)
    bucket = f"{test_settings.s3_bucket_prefix}reports"
    store = ObjectStore(test_settings)
    objects = list(store.client.list_objects(bucket, recursive=True, include_version=True))
    assert sorted(o.object_name for o in objects) == sorted(r["object_key"] for r in record["reports"].values())
    assert len(objects) == 2  # one report in each language, stored once


async def test_with_the_object_store_down_the_report_is_retried_and_not_published_until_stored(test_settings, test_db):
    url = test_settings.rabbitmq_url.get_secret_value()
    settings = settings_for(test_settings)
    job = Job("JOB-R-3", rounds=1)
    app = create_app(SERVICE, settings)
    runtime = app.state.runtime
    async with AsyncTestClient(app), EventTap(url, REPORT_PUBLISHED) as tap:
        working_store = runtime.objects
        # The store becomes unreachable: an endpoint nobody listens on (the shared server stays up).
        runtime.objects = ObjectStore(
            settings.model_copy(update={"s3_endpoint": "127.0.0.1:9"}), ["reports", "archive", "backups"]
        )
        await publish_events(url, *job.build())

        async def failed_attempts():
            doc = test_db.records.find_one({"job_id": job.job_id})
            return doc and doc.get("attempts", 0) >= 2 and doc

        pending = await eventually(failed_attempts, timeout=30)
        assert pending["status"] == "pending" and "report" not in pending
        assert await tap.rest() == []  # two rounds failed to store it: nothing was published

        runtime.objects = working_store  # the store is back

        async def published():
            return published_records(test_db, job.job_id)

        [record] = await eventually(published, timeout=30)
        [event] = await tap.take(1, timeout=20)

    pdf = await ObjectStore(settings, ["reports"]).get_bytes("reports", record["report"]["object_key"])
    assert hashlib.sha256(pdf).hexdigest() == record["report"]["sha256"] == event.data.report.sha256


async def test_a_correction_is_a_new_version_and_keeps_the_old_one(test_settings, test_db, tokens):
    url = test_settings.rabbitmq_url.get_secret_value()
    job = Job("JOB-R-4", rounds=1)
    app = create_app(SERVICE, settings_for(test_settings))
    async with AsyncTestClient(app) as client:
        await publish_events(url, *job.build())

        async def published():
            return published_records(test_db, job.job_id)

        [first] = await eventually(published, timeout=30)
        engineer = {"Authorization": f"Bearer {tokens.mint('ENG-014', ['engineer'])}"}
        path = f"/records/{first['record_id']}/corrections"
        bad_category = await client.post(
            path, json={"reason": "x" * 5, "failure_category": "gremlins"}, headers=engineer
        )
        unknown_field = await client.post(path, json={"reason": "x" * 5, "colour": "red"}, headers=engineer)
        unknown_record = await client.post(
            "/records/REC-NOPE/corrections", json={"reason": "x" * 5, "root_cause": "y"}, headers=engineer
        )
        assert test_db.records.count_documents({}) == 1  # nothing written by the bad requests
        empty = await client.post(
            f"/records/{first['record_id']}/corrections", json={"reason": "typo"}, headers=engineer
        )
        corrected = await client.post(
            f"/records/{first['record_id']}/corrections",
            json={"reason": "Cause confirmed by the manufacturer", "root_cause": "Thermostat element cracked."},
            headers=engineer,
        )
        assert corrected.status_code == 202, corrected.text

        async def two_versions():
            return len(published_records(test_db, job.job_id)) == 2

        await eventually(two_versions, timeout=30)
        customer = {"Authorization": f"Bearer {tokens.mint('CUST-0107', ['customer'])}"}
        other = {"Authorization": f"Bearer {tokens.mint('CUST-9999', ['customer'])}"}
        latest = await client.get(f"/jobs/{job.job_id}/record", headers=customer)
        old = await client.get(f"/jobs/{job.job_id}/record?version=1", headers=customer)
        forbidden = await client.get(f"/jobs/{job.job_id}/report-link", headers=other)

    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "root_cause"
    # the kit answers a body that fails its schema with 400, naming the field
    assert bad_category.status_code == 400 and "failure_category" in bad_category.json()["errors"][0]["field"]
    assert unknown_field.status_code == 400 and "colour" in bad_category.text + unknown_field.text
    assert unknown_record.status_code == 404
    assert latest.json()["version"] == 2
    assert latest.json()["content"]["root_cause"] == "Thermostat element cracked."
    assert old.json()["content"]["root_cause"] == job.root_cause
    assert old.json()["report"]["sha256"] == first["report"]["sha256"]  # version 1 untouched
    assert latest.json()["report"]["object_key"].endswith("/v2/en/report.pdf")
    assert forbidden.status_code == 403


async def test_only_the_jobs_engineer_or_a_manager_may_correct_its_record(test_settings, test_db, tokens):
    url = test_settings.rabbitmq_url.get_secret_value()
    job = Job("JOB-R-6", rounds=1)
    app = create_app(SERVICE, settings_for(test_settings))
    correction = {"reason": "Cause confirmed by the manufacturer", "root_cause": "Thermostat element cracked."}

    def bearer(subject: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens.mint(subject, [role])}"}

    async with AsyncTestClient(app) as client:
        await publish_events(url, *job.build())

        async def published():
            return published_records(test_db, job.job_id)

        [first] = await eventually(published, timeout=30)
        path = f"/records/{first['record_id']}/corrections"
        other_engineer = await client.post(path, json=correction, headers=bearer("ENG-999", "engineer"))
        admin = await client.post(path, json=correction, headers=bearer("ADM-1", "admin"))
        assert test_db.records.count_documents({"job_id": job.job_id}) == 1  # nothing written
        own_engineer = await client.post(path, json=correction, headers=bearer(job.engineer_id, "engineer"))
        assert own_engineer.status_code == 202, own_engineer.text

        async def two_versions():
            return len(published_records(test_db, job.job_id)) == 2

        await eventually(two_versions, timeout=30)
        manager = await client.post(path, json=correction, headers=bearer("MGR-1", "manager"))
        assert manager.status_code == 202, manager.text

    assert other_engineer.status_code == 403, other_engineer.text
    assert other_engineer.headers["content-type"].startswith("application/problem+json")
    assert other_engineer.json()["errors"][0]["field"] == "record_id"
    assert admin.status_code == 403, admin.text  # not a role that corrects records
    versions = test_db.records.find({"job_id": job.job_id}, sort=[("version", 1)])
    assert [v.get("correction", {}).get("by") for v in versions] == [None, job.engineer_id, "MGR-1"]


async def test_a_job_cancelled_before_its_report_is_stored_gets_no_report(test_settings, test_db):
    url = test_settings.rabbitmq_url.get_secret_value()
    settings = settings_for(test_settings)
    job = Job("JOB-R-5", rounds=1)
    app = create_app(SERVICE, settings)
    runtime = app.state.runtime
    async with AsyncTestClient(app), EventTap(url, REPORT_PUBLISHED) as tap:
        working_store = runtime.objects
        runtime.objects = ObjectStore(settings.model_copy(update={"s3_endpoint": "127.0.0.1:9"}), ["reports"])
        await publish_events(url, *job.build())

        async def pending():
            return test_db.records.find_one({"job_id": job.job_id, "status": "pending"})

        await eventually(pending, timeout=30)
        cancelled = new_event(
            example("job.cancelled.v1").model_copy(update={"job_id": job.job_id}),
            source_service="intake",
            subject=job.job_id,
        )
        await publish_events(url, cancelled)

        async def abandoned():
            return test_db.records.find_one({"job_id": job.job_id, "status": "abandoned"})

        await eventually(abandoned, timeout=30)
        runtime.objects = working_store
        await asyncio.sleep(1.5)  # settle: several publisher rounds (0.2 s) with the store back
        assert await tap.rest() == []  # nothing was published

    assert test_db.records.find_one({"job_id": job.job_id})["status"] == "abandoned"
