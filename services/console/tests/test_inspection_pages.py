"""The inspector's pages against the real quality service: the open inspections, the form with each
limit beside its field and pass or fail shown as a value is typed, quality's refusal beside the field it
names, a form sent twice acting once, a failing round with the rework that follows, the rework passing,
and another role refused."""

from __future__ import annotations

import re

from console_service.inspection import domain

from compressor_kit.testing.browser import assert_accessible, assert_clean, assert_fits, person_page, screenshot
from compressor_kit.testing.events import publish_events

from . import steps_inspection
from .console_story import job_event, new_job_id
from .site import console_site

DISCHARGE = '.indicator[data-code="discharge_temperature"]'
SENT_TWICE = """async () => {
  const form = document.getElementById("inspection-form");
  const send = () => fetch(form.action, {method: "POST", body: new URLSearchParams(new FormData(form))});
  const answers = await Promise.all([send(), send()]);
  return answers.map((answer) => [answer.status, answer.url]);
}"""


async def test_an_inspector_fails_a_round_sees_the_rework_and_passes_it_and_another_role_is_refused(
    test_settings, identity_provider, database_prefix, chromium, desktop_page, phone_page, tmp_path
):
    amqp_url = test_settings.rabbitmq_url.get_secret_value()
    job_id, other_job = new_job_id(), new_job_id()
    async with console_site(test_settings, database_prefix, ("quality",), tmp_path) as site:
        # Quality opens an inspection when maintenance reports a round of work completed.
        await publish_events(amqp_url, job_event("job.work_completed.v1", job_id))
        page = desktop_page
        await site.sign_in(page, "meiling", "/inspections")
        form_url = await steps_inspection.open_inspection(page, site, job_id, 1)
        await page.goto(f"{site.url}/inspections")
        row = page.locator(f'li.inspection[data-job="{job_id}"]')
        text = await row.text_content() or ""
        assert "Round 1" in text and "Atlas Copco GA 37 VSD+" in text
        assert await page.locator('nav.roles a[aria-current="page"]').inner_text() == "Inspections"
        await assert_accessible(page)
        await screenshot(page, "inspection-list")

        # The form: each indicator's limit beside its field; pass or fail as the value is typed.
        await page.goto(form_url)
        discharge = page.locator(DISCHARGE)
        high = float(await discharge.get_attribute("data-max") or "nan")
        assert re.search(rf"Limit .*{high:g} °C", await discharge.locator(".hint").inner_text())
        verdict = discharge.locator("output.verdict")
        assert await verdict.inner_text() == "Not read yet"
        await discharge.locator("input[type=text]").press_sequentially(f"{high - 5:g}")
        assert await verdict.inner_text() == "Pass: within limits"
        await discharge.locator("input[type=text]").fill("")
        await discharge.locator("input[type=text]").press_sequentially(f"{high + 4:g}")
        assert await verdict.inner_text() == f"Fail: above max {high:g} °C"
        assert await discharge.get_attribute("data-verdict") == "fail"

        # Quality's refusal lands beside the field it names, with what was typed kept.
        await steps_inspection.fill_readings(page, fail=True)
        await page.locator('input[name="measurements.0.unit"]').evaluate("(unit) => unit.value = 'psi'")
        await page.get_by_role("button", name="Record results").click()
        first = page.locator(".indicator").first
        await first.locator(".field-error").wait_for()
        assert "not 'psi'" in await first.locator(".field-error").inner_text()
        assert await first.locator("input[type=text]").get_attribute("aria-invalid") == "true"
        typed = await page.locator(f"{DISCHARGE} input[type=text]").input_value()
        assert float(typed) > high, "the readings typed are kept"
        assert await page.locator(f"{DISCHARGE} output.verdict").inner_text() == f"Fail: above max {high:g} °C"
        await assert_accessible(page)
        await screenshot(page, "inspection-form-refused")

        # Sent twice at once (a double click): recorded once, both land on the one result.
        answers = await page.evaluate(SENT_TWICE)
        assert [status for status, _ in answers] == [200, 200], answers
        assert {url for _, url in answers} == {form_url}
        await page.goto(form_url)
        assert (await page.locator("#result-heading").inner_text()).startswith("Failed: 1 indicator")
        rework = page.locator(".notice.rework")
        assert "Rework follows" in await rework.inner_text() and "round 2" in await rework.inner_text()
        assert await rework.get_by_role("link").get_attribute("href") == f"/jobs/{job_id}"
        assert await page.locator("ul.results li.fail").count() == 1
        await assert_accessible(page)
        assert_clean(page, allow=("status of 422",))
        await screenshot(page, "inspection-failed")

        # The rework's round: what it had to correct is shown, and it passes.
        await publish_events(amqp_url, job_event("job.work_completed.v1", job_id, round=2))
        await steps_inspection.open_inspection(page, site, job_id, 2)
        assert "Element outlet temperature" in await page.locator(".rework-of").inner_text()
        await screenshot(page, "inspection-form")
        await page.goto(f"{site.url}/inspections")
        assert await page.locator(f'li.inspection[data-job="{job_id}"][data-round="1"]').count() == 0
        assert await steps_inspection.inspect(page, site, job_id, 2, fail=False) == "passed"
        assert await page.locator("ul.results li.fail").count() == 0
        assert await page.locator(".notice.rework").count() == 0

        # On a phone: the list, the form and a failing round fit the screen.
        await publish_events(amqp_url, job_event("job.work_completed.v1", other_job))
        await site.sign_in(phone_page, "meiling", "/inspections")
        await steps_inspection.open_inspection(phone_page, site, other_job, 1)
        await steps_inspection.fill_readings(phone_page, fail=True)
        await assert_fits(phone_page)
        await screenshot(phone_page, "inspection-form")
        await phone_page.goto(f"{site.url}/inspections")
        await assert_fits(phone_page)
        await screenshot(phone_page, "inspection-list")
        assert await steps_inspection.inspect(phone_page, site, other_job, 1, fail=True) == "failed"
        await assert_fits(phone_page)
        await assert_accessible(phone_page)
        await screenshot(phone_page, "inspection-failed")
        assert_clean(phone_page)

        # A dispatcher is refused the inspector's pages.
        async with person_page(chromium, "desktop") as dispatcher:
            await site.sign_in(dispatcher, "daniel", "/inspections")
            await dispatcher.get_by_role("heading", name="This page is not available to you").wait_for()
            response = await dispatcher.goto(form_url)
            assert response is not None and response.status == 403
            assert await dispatcher.locator('nav.roles a[href="/inspections"]').count() == 0


def test_limits_read_as_the_inspector_reads_them_and_judge_as_quality_does():
    both = {"code": "t", "name": "T", "unit": "°C", "min_limit": 70, "max_limit": 100.5}
    assert domain.limit_text(both) == "70 to 100.5 °C"
    assert domain.limit_text({**both, "min_limit": None}) == "max 100.5 °C"
    assert domain.limit_text({**both, "max_limit": None}) == "min 70 °C"
    assert domain.within_limits(both, 100.5) and domain.within_limits(both, 70)
    assert not domain.within_limits(both, 100.51) and not domain.within_limits(both, 69.9)
    assert domain.reading_for(both, fail=True) > 100.5 and domain.within_limits(both, domain.reading_for(both, False))


def test_readings_go_in_checklist_order_and_refusals_land_beside_their_indicator():
    checklist = [
        {"code": "p", "name": "Pressure", "unit": "bar", "min_limit": 6, "max_limit": 8},
        {"code": "t", "name": "Temperature", "unit": "°C", "min_limit": None, "max_limit": 100},
    ]
    sent = domain.readings(checklist, {"measurements.0.value": " 7,1 ", "measurements.1.value": "99", "notes": " "})
    assert sent.errors == {}
    assert sent.body == {
        "measurements": [{"code": "p", "value": 7.1, "unit": "bar"}, {"code": "t", "value": 99.0, "unit": "°C"}]
    }
    refused = domain.readings(checklist, {"measurements.0.value": "", "measurements.1.value": "hot"})
    assert refused.errors == {
        "measurements.0.value": "Pressure was not measured",
        "measurements.1.value": "type the value read, as a number",
    }
    assert domain.readings(checklist, {"notes": "x" * 2001}).errors["notes"] == "at most 2000 characters"
    placed = domain.field_errors(
        checklist, {"measurements.1.unit": "not psi", "measurements.p": "not measured", "inspection_id": "decided"}
    )
    assert placed == {
        "measurements.1.value": "not psi",
        "measurements.0.value": "not measured",
        "inspection_id": "decided",
    }
