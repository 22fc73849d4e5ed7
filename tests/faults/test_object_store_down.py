"""The object store down while a report is due: reporting retries until it can store the PDF and
never marks the record published (nor announces it) before; then exactly one report, one event.

The stack gets an S3 server of its own (moto), killed once the job's second work round completes
(the report falls due when the inspection that follows passes) and started again, empty, once
reporting has failed to store the report a few times.
"""

from __future__ import annotations

import asyncio
import hashlib

import httpx
import pytest
from minio import Minio
from pymongo import MongoClient

from compressor_kit.testing import eventually
from compressor_kit.testing.watcher import EventWatcher
from demo.flow import Office, run_job
from demo.stack import Stack

from .conftest import STACK_ENV, assert_every_event_once, assert_filed_once
from .servers import MotoServer

pytestmark = pytest.mark.slow


@pytest.fixture
def moto():
    server = MotoServer()
    server.start()
    yield server
    server.kill()


async def test_a_report_due_while_the_object_store_is_down_is_published_once_when_it_is_back(
    test_settings, database_prefix, smtp_port, moto, tmp_path
):
    amqp_url = test_settings.rabbitmq_url.get_secret_value()
    stack = Stack(
        rabbitmq_url=amqp_url,
        database_prefix=database_prefix,
        bucket_prefix=test_settings.s3_bucket_prefix,
        log_dir=tmp_path / "logs",
        env={**STACK_ENV, "SMTP_PORT": str(smtp_port), "S3_ENDPOINT": moto.endpoint},
    )
    mongo = MongoClient(test_settings.mongodb_url.get_secret_value())
    records = mongo[f"{database_prefix}reporting"]["records"]
    async with EventWatcher(amqp_url) as watcher:
        with stack:
            async with httpx.AsyncClient(timeout=30) as client:
                office = Office(stack.urls(), client, test_settings)
                await office.stock_parts_for(1)
                flow = asyncio.create_task(run_job(office))

                async def second_round_done():
                    jobs = {e.subject for e in watcher.events}
                    done = [j for j in jobs if watcher.types(j).count("job.work_completed.v1") == 2]
                    if flow.done():
                        flow.result()  # the flow failed: show why
                    return done[0] if done else None

                job = await eventually(second_round_done, timeout=240, interval=0.1)
                await asyncio.to_thread(moto.kill)

                # The report falls due; storing it fails again and again; nothing is marked or announced.
                async def failed_repeatedly():
                    record = records.find_one({"job_id": job})
                    return record if record and record.get("attempts", 0) >= 3 else None

                record = await eventually(failed_repeatedly, timeout=120, interval=0.2)
                assert record["status"] == "pending" and record["last_error"], record
                assert "report" not in record
                assert "job.report_published.v1" not in watcher.types(job)
                seen = await office.manager.call("GET", "reporting", f"/jobs/{job}/record", ok=(200, 404))
                assert seen.status_code == 404 or seen.json()["status"] != "published", seen.text
                assert not flow.done()

                # Back (empty: moto keeps nothing): reporting stores the report and publishes it once.
                await asyncio.to_thread(moto.start)
                result = await asyncio.wait_for(flow, timeout=300)
                assert result.job_id == job
                await assert_every_event_once(watcher, job)
                assert_filed_once(result)
                assert records.count_documents({"job_id": job}) == 1
                published = await office.manager.get("reporting", f"/jobs/{job}/record")
                assert published["status"] == "published" and published["version"] == 1
                store = Minio(
                    moto.endpoint,
                    access_key=test_settings.s3_access_key,
                    secret_key=test_settings.s3_secret_key.get_secret_value(),
                    secure=False,
                )
                bucket = published["report"]["bucket"]
                reports = [o for o in store.list_objects(bucket, recursive=True, include_version=True)]
                # one report in each language, each stored once
                assert sorted(o.object_name for o in reports) == sorted(
                    r["object_key"] for r in published["reports"].values()
                )
                assert published["report"] in published["reports"].values()
                assert store.get_bucket_versioning(bucket).status == "Enabled"  # recreated as it was made
                pdf = await client.get(result.report_link["url"])
                assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
                assert hashlib.sha256(pdf.content).hexdigest() == published["report"]["sha256"]
    mongo.close()
