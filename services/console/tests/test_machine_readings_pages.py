"""A machine's controller readings on its page and on the job it raised, in a real browser: telemetry
takes in a day of readings (a temperature that climbs through the warning limit to a shutdown alarm),
intake raises the job with the readings attached, and a dispatcher reads the charts with the limits
and the alarm marked. A machine with no device says so."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from console_service.machines import domain

from compressor_kit.testing.browser import assert_accessible, assert_clean, assert_fits, screenshot
from demo.flow import Office, open_customer_file
from demo.people import until

from .site import console_site

ALARM_CODE = "E0107"  # an element outlet temperature shutdown


async def _assign_to_lim(http: httpx.AsyncClient, dispatch: str, as_dispatcher: dict[str, str], job_id: str) -> None:
    """The dispatcher makes sure Lim (ENG-001, a seed engineer) has the job."""

    async def lims() -> bool | None:
        response = await http.get(f"{dispatch}/jobs/{job_id}", headers=as_dispatcher)
        if response.status_code != 200:
            return None
        if (response.json().get("engineer") or {}).get("engineer_id") == "ENG-001":
            return True
        await http.post(
            f"{dispatch}/jobs/{job_id}/assignment",
            json={"engineer_id": "ENG-001", "reason": "Lim takes it on call."},
            headers=as_dispatcher,
        )
        return None

    await until(lims, what="the job assigned to Lim")


def day_of_readings(device_id: str, now: datetime) -> list[dict[str, Any]]:
    """Every 2 hours over the last day; the temperature climbs past 110 °C (warnings) to 121 °C, where
    the controller stops the machine (an alarm); 120 running hours are left before service level A."""
    readings = []
    for hours_ago in range(24, -1, -2):
        running_hours = 25_880 - hours_ago * 0.8
        temperature = 86.0 + (24 - hours_ago) * 1.45
        readings.append(
            {
                "device_id": device_id,
                "read_at": (now - timedelta(hours=hours_ago, minutes=5)).isoformat(),
                "running_hours": running_hours,
                "loaded_hours": round(running_hours * 0.82, 1),
                "remaining_hours": {"A": round(26_000 - running_hours, 1)},
                "discharge_pressure_bar": round(7.4 - (24 - hours_ago) * 0.01, 2),
                "element_outlet_temperature_c": round(temperature, 1),
                "alarms": [ALARM_CODE] if temperature >= 120 else [],
                "warnings": ["W0107"] if 110 <= temperature < 120 else [],
            }
        )
    return readings


def test_readings_from_telemetry_and_a_request_are_one_series_each_time_once_with_the_flags_marked():
    now = datetime(2026, 12, 1, 8, tzinfo=UTC)
    readings = day_of_readings("DEV-1", now)
    attached = [{k: v for k, v in r.items() if k != "remaining_hours"} for r in readings[-3:]]
    merged = domain.readings_of(attached, readings)
    assert len(merged) == len(readings)
    shown = domain.show(merged, marked_at=now - timedelta(minutes=1), marked_label="Job requested")
    assert shown.flagged == sum(1 for r in readings if r["alarms"] or r["warnings"])
    temperature = next(c for c in shown.charts if c.ident == "chart-element-outlet-temperature-c")
    assert temperature.svg.count('class="point alarm"') == 1
    assert 'class="limit shutdown"' in temperature.svg and 'class="limit warning"' in temperature.svg
    assert "1 with an alarm" in temperature.description
    assert domain.show([]).empty and domain.show([]).charts == []


async def test_a_dispatcher_reads_the_machines_charts_with_the_alarm_on_its_page_and_on_the_job_it_raised(
    test_settings, identity_provider, database_prefix, desktop_page, phone_page, tmp_path
):
    async with (
        console_site(
            test_settings, database_prefix, ("intake", "telemetry", "reporting", "dispatch"), tmp_path
        ) as site,
        httpx.AsyncClient(timeout=10) as http,
    ):
        office = Office(site.stack.urls(), http, test_settings)
        tag = uuid.uuid4().hex[:6].upper()
        customer_id, _site_id, equipment_id = await open_customer_file(office.reception, tag)
        _other, _other_site, silent_id = await open_customer_file(office.reception, tag, number=2)
        device_id = f"DEV-{tag}"
        await office.manager.post(
            "telemetry",
            "/devices",
            {
                "device_id": device_id,
                "equipment_id": equipment_id,
                "controller_family": "elektronikon",
                "service_levels": [{"level": "A", "hours": 4000, "months": 6}],
                "last_service_on": (date.today() - timedelta(days=40)).isoformat(),
                "last_service_hours": 22000,
            },
        )
        export = json.dumps(day_of_readings(device_id, datetime.now(UTC).replace(microsecond=0))).encode()
        upload = await http.post(
            f"{site.service_url('telemetry')}/readings/uploads",
            files={"data": ("export.json", export, "application/json")},
            headers=await office.manager.headers(),
        )
        assert upload.status_code == 200 and upload.json()["accepted"] == 13, upload.text

        async def raised() -> dict | None:
            page = await office.manager.get("intake", "/requests", params={"customer_id": customer_id})
            return page["items"][0] if page["items"] else None

        job_id = (await until(raised, what="the request the machine's readings raise"))["job_id"]

        # The job: the readings its request carried, with the warnings, the alarm and the limits marked.
        page = desktop_page
        await site.sign_in(page, "daniel", f"/jobs/{job_id}")

        async def attached() -> bool | None:
            await page.goto(f"{site.url}/jobs/{job_id}")
            return await page.get_by_text("The request carries").is_visible() or None

        await until(attached, what="the job page with the readings its request carried")
        section = page.locator("#readings")
        await section.get_by_role("heading", name="Machine readings").wait_for()
        temperature = section.locator("#chart-element-outlet-temperature-c svg")
        assert await temperature.get_attribute("role") == "img"
        assert await temperature.locator(".point.alarm").count() == 1
        assert await temperature.locator(".point.warning").count() >= 2
        assert await temperature.locator(".limit.shutdown").count() == 1
        assert await temperature.locator(".limit.warning").count() == 1
        assert "1 with an alarm" in (await temperature.locator("desc").text_content() or "")
        for ident in ("chart-running-hours", "chart-discharge-pressure-bar"):
            assert await section.locator(f"#{ident} svg .point").count() == 13
        await section.get_by_text("Every reading as a table").click()
        alarm_row = section.locator("tr.flagged-alarm")
        assert await alarm_row.count() == 1 and ALARM_CODE in (await alarm_row.text_content() or "")
        await assert_accessible(page)
        assert_clean(page)
        await screenshot(page, "console-job-readings")

        # The machine's page: the same readings from telemetry, and its facts from the customer file.
        await page.get_by_role("link", name="The machine's page").click()
        await page.wait_for_url(f"{site.url}/equipment/{equipment_id}")
        await page.get_by_text(f"API{tag}0001").wait_for()
        assert await page.get_by_text("25,880 h (").is_visible()  # the controller's latest, beside the file's
        assert await page.locator("#chart-element-outlet-temperature-c svg .point.alarm").count() == 1
        await assert_accessible(page)
        assert_clean(page)
        await screenshot(page, "console-machine-readings")

        # The engineer's remote pre-diagnosis starts from the data: the job's hub on their phone shows the
        # same charts, one above the other, nothing wider than the screen.
        await _assign_to_lim(http, site.service_url("dispatch"), await office.dispatcher.headers(), job_id)
        await site.sign_in(phone_page, "lim", f"/field/jobs/{job_id}")
        await phone_page.locator("#chart-element-outlet-temperature-c svg .point.alarm").wait_for()
        assert await phone_page.get_by_text("The request carries").is_visible()
        await assert_fits(phone_page)
        await assert_accessible(phone_page)
        await screenshot(phone_page, "console-field-job-readings")
        # In Malay.
        await phone_page.get_by_role("link", name="Bahasa Melayu").click()
        await phone_page.get_by_role("heading", name="Bacaan mesin").wait_for()
        await assert_fits(phone_page)
        await screenshot(phone_page, "console-field-job-readings-ms")

        # A machine with no telemetry device.
        await page.goto(f"{site.url}/equipment/{silent_id}")
        await page.get_by_text("No telemetry device is registered for this machine").wait_for()
        assert await page.locator("svg.chart").count() == 0
        assert_clean(page)
