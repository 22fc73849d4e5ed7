"""Dead letters can be listed without being taken, and replayed to the consumer that failed them."""

import asyncio
import os
import sys

from litestar.testing import AsyncTestClient

from compressor_contracts import CloudEvent
from compressor_contracts.events.intake import JobRequested
from compressor_kit.consumer import Consumer
from compressor_kit.deadletters import list_dead_letters, replay
from compressor_kit.http import create_app
from compressor_kit.outbox import UnitOfWork
from compressor_kit.runtime import ServiceDefinition
from compressor_kit.testing import eventually, ready_messages

from .test_consumer import job_requested, publish_raw

DLQ = "dispatch.dead-letters"


async def cli(amqp_url: str, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "compressor_kit.deadletters",
        *args,
        env={**os.environ, "RABBITMQ_URL": amqp_url},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    return out.decode()


async def test_a_dead_letter_is_listed_with_its_reason_and_replayed_after_the_fix(test_settings, test_db):
    fixed = False

    async def assign(event: CloudEvent, uow: UnitOfWork) -> None:
        if not fixed:
            raise RuntimeError("no engineer calendar loaded")
        await uow.db.assignments.insert_one({"_id": event.subject}, session=uow.session)

    definition = ServiceDefinition(
        name="dispatch",
        default_port=0,
        description="test",
        consumers=[lambda runtime: [Consumer("dispatch.job-requests", {JobRequested: assign})]],
    )
    url = test_settings.rabbitmq_url.get_secret_value()
    async with AsyncTestClient(create_app(definition, test_settings)):
        failing, untouched = job_requested("JOB-DL-1"), job_requested("JOB-DL-2")
        for event in (failing, untouched):
            await publish_raw(url, event.model_dump_json().encode())

        async def both_dead_lettered():
            return await ready_messages(url, DLQ) == 2

        await eventually(both_dead_lettered, timeout=30)

        letters = await list_dead_letters(url, ["dispatch"])
        assert {letter.event_id for letter in letters} == {failing.id, untouched.id}
        first = next(letter for letter in letters if letter.event_id == failing.id)
        assert first.failed_queue == "dispatch.job-requests"
        assert first.error_type == "RuntimeError" and "no engineer calendar" in first.error
        assert first.event_type == failing.type and first.attempts == test_settings.consumer_max_attempts
        assert await ready_messages(url, DLQ) == 2, "listing must not take messages away"

        listed = await cli(url, "list", "dispatch")
        assert failing.id in listed and "RuntimeError: no engineer calendar loaded" in listed

        fixed = True
        replayed = await replay(url, "dispatch", [failing.id])
        assert [letter.event_id for letter in replayed] == [failing.id]

        async def handled():
            return test_db.assignments.find_one({"_id": "JOB-DL-1"})

        await eventually(handled, timeout=30)
        assert await ready_messages(url, DLQ) == 1
        [left] = await list_dead_letters(url, ["dispatch"])
        assert left.event_id == untouched.id
    assert test_db.assignments.find_one({"_id": "JOB-DL-2"}) is None
