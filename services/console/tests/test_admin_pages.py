"""The admin's dead letters against real services: a malformed event quality really dead-lettered is
listed with its reason, a service that is down shows as unavailable while the others show, nothing
chosen is refused beside the choices, and a dead letter replayed after its fix goes back to quality
(which then opens the inspection it had failed to open), confirmed with how many were replayed;
another role is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import aio_pika
from console_service.admin import domain

from compressor_contracts import CloudEvent
from compressor_kit.testing import eventually
from compressor_kit.testing.browser import assert_accessible, assert_clean, assert_fits, person_page, screenshot
from compressor_kit.testing.ports import free_port

from . import steps_inspection
from .console_story import job_event, new_job_id
from .site import console_site

QUEUE = "quality.inspections"
DEAD_LETTERS = "quality.dead-letters"


async def publish_malformed(amqp_url: str, event: CloudEvent) -> None:
    """`event` with its equipment missing, under its routing key: quality's consumer refuses it at once."""
    body = json.loads(event.model_dump_json())
    del body["data"]["equipment"]
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange("compressor.events")
        await exchange.publish(
            aio_pika.Message(json.dumps(body).encode(), content_type="application/cloudevents+json", delivery_mode=2),
            routing_key=event.routing_key,
        )


async def put_failed_once(amqp_url: str, event: CloudEvent) -> None:
    """`event` as quality's delivery policy dead-letters it after a failure since fixed (the headers the
    kit writes), straight into quality's dead-letter queue."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.default_exchange.publish(
            aio_pika.Message(
                event.model_dump_json().encode(),
                content_type="application/cloudevents+json",
                message_id=event.id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers={
                    "x-error": "inspection template catalogue not loaded",
                    "x-error-type": "RuntimeError",
                    "x-failed-queue": QUEUE,
                    "x-attempts": 5,
                    "x-dead-lettered-at": datetime.now(UTC).isoformat(),
                },
            ),
            routing_key=DEAD_LETTERS,
        )


async def test_an_admin_sees_dead_letters_per_service_with_their_reasons_and_replays_one(
    test_settings, identity_provider, database_prefix, chromium, desktop_page, phone_page, tmp_path
):
    amqp_url = test_settings.rabbitmq_url.get_secret_value()
    malformed = job_event("job.work_completed.v1", new_job_id())
    fixed_job = new_job_id()
    failed_once = job_event("job.work_completed.v1", fixed_job)
    down = {f"{service.upper()}_URL": f"http://127.0.0.1:{free_port()}" for service in domain.SERVICES}
    async with console_site(test_settings, database_prefix, ("intake", "quality"), tmp_path, env=down) as site:
        await publish_malformed(amqp_url, malformed)
        await put_failed_once(amqp_url, failed_once)
        page = desktop_page
        await site.sign_in(page, "siti", "/admin/dead-letters")
        quality = page.locator("#service-quality")

        async def both_listed() -> bool:
            await page.goto(f"{site.url}/admin/dead-letters")
            return await quality.locator("li.letter").count() == 2

        await eventually(both_listed, timeout=30, interval=0.5)
        refused = quality.locator(f'li.letter[data-event-id="{malformed.id}"]')
        assert "ContractError" in await refused.locator(".reason").inner_text()
        assert "job.work_completed" in await refused.locator(".type").inner_text()
        assert QUEUE in await refused.inner_text()
        assert "inspection template catalogue not loaded" in await quality.inner_text()
        assert "No dead letters." in await page.locator("#service-intake").inner_text()
        for service in ("dispatch", "maintenance", "reporting", "feedback", "telemetry"):
            assert "unavailable" in await page.locator(f"#service-{service}").inner_text(), service
        assert await page.locator('nav.roles a[aria-current="page"]').inner_text() == "Dead letters"
        await assert_accessible(page)
        await screenshot(page, "admin-dead-letters")

        # Nothing chosen: refused beside the choices, nothing replayed.
        await quality.get_by_role("button", name="Replay chosen").click()
        error = page.locator("#service-quality .field-error")
        await error.wait_for()
        assert "Choose at least one" in await error.inner_text()
        assert await quality.locator("li.letter").count() == 2

        # The cause fixed, the one that failed is replayed: quality takes it and opens its inspection.
        await quality.get_by_label(failed_once.id).check()
        await quality.get_by_role("button", name="Replay chosen").click()
        confirmation = page.locator(".notice.done")
        await confirmation.wait_for()
        assert (await confirmation.inner_text()).startswith("Replayed 1 dead letter of quality")
        await screenshot(page, "admin-dead-letters-replayed")

        async def only_the_malformed_left() -> bool:
            await page.goto(f"{site.url}/admin/dead-letters")
            ids = await quality.locator("li.letter").evaluate_all("(items) => items.map((i) => i.dataset.eventId)")
            return ids == [malformed.id]

        await eventually(only_the_malformed_left, timeout=30, interval=0.5)
        assert_clean(page, allow=("status of 422",))

        # On a phone; and the inspector now finds the inspection the replay opened.
        await site.sign_in(phone_page, "siti", "/admin/dead-letters")
        await phone_page.locator("#service-quality li.letter").first.wait_for()
        await assert_fits(phone_page)
        await assert_accessible(phone_page)
        await screenshot(phone_page, "admin-dead-letters")
        assert_clean(phone_page)

        async with person_page(chromium, "desktop") as inspector:
            await site.sign_in(inspector, "meiling", "/inspections")
            await steps_inspection.open_inspection(inspector, site, fixed_job, 1)
            response = await inspector.goto(f"{site.url}/admin/dead-letters")
            assert response is not None and response.status == 403
            assert await inspector.locator('nav.roles a[href="/admin/dead-letters"]').count() == 0


def test_a_replay_names_exactly_one_of_the_chosen_ids_or_all_and_is_confirmed_by_count():
    assert domain.choice([" a ", "b", "a", ""], replay_all=False).body == {"event_ids": ["a", "b"]}
    assert domain.choice([], replay_all=True).body == {"all": True}
    nothing = domain.choice(["  "], replay_all=False)
    assert nothing.body is None and nothing.error and "at least one" in nothing.error
    assert domain.choice(["x" * 129], replay_all=False).body is None
    skipped = [{"reason": "x-failed-queue 'a' is not a queue of quality"}]
    url = domain.confirmation_url("quality", {"replayed": [{}, {}], "skipped": skipped, "not_found": []})
    shown = domain.confirmation_of(dict(parse_qsl(urlsplit(url).query)))
    assert shown is not None
    assert shown.text.startswith("Replayed 2 dead letters of quality")
    assert "1 stayed in the dead-letter queue (x-failed-queue 'a' is not a queue of quality)." in shown.text
    assert domain.confirmation_of({"service": "elsewhere", "replayed": "1"}) is None
    assert domain.confirmation_of({"service": "quality", "replayed": "-1"}) is None
