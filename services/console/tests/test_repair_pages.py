"""The engineer's repair in a real browser against the real services: the plan from the manufacturer's
procedure, a manager's rejection and approval on the customer's behalf, a work round step by step on a
phone (a safety step refused a skip, a double submit acting once, a part outside the plan refused
without its reason, beside the field), a failed inspection's rework round and the review memo.

The earlier phases (the call, the assignment, the pre-diagnosis, the arrival and the diagnosis) go
through the services' APIs as demo/flow.py does, each person with their own provider-issued token."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from console_service.repair import domain
from playwright.async_api import Page

from compressor_kit.refusals import Refusal
from compressor_kit.testing.browser import assert_accessible, assert_clean, assert_fits, person_page, screenshot
from compressor_kit.testing.provider import seed
from demo.flow import PROCEDURE, Office, _reading, open_customer_file
from demo.people import until

from . import steps_repair
from .site import console_site

REPAIR = ("intake", "dispatch", "maintenance")


# --- the earlier phases through the APIs -------------------------------------------------------


async def diagnosed_job(office: Office) -> tuple[str, str, str]:
    """Phases 1-3 as run_job does them: (job id, the assigned engineer's username, customer id)."""
    tag = datetime.now(UTC).strftime("%H%M%S%f")[-8:]
    reception = office.reception
    customer_id, site_id, equipment_id = await open_customer_file(reception, tag)
    call = await reception.post(
        "intake",
        "/requests",
        {
            "channel": "phone",
            "priority": "high",
            "customer_id": customer_id,
            "site_id": site_id,
            "equipment_id": equipment_id,
            "fault_description": "Trips on high discharge temperature after about 40 minutes of running.",
        },
        headers={"Idempotency-Key": f"repair-call-{tag}"},
    )
    job_id = call["job_id"]

    async def assigned() -> dict[str, Any] | None:
        response = await office.dispatcher.call("GET", "dispatch", f"/jobs/{job_id}", ok=(200, 404))
        job = response.json() if response.status_code == 200 else {}
        if job.get("status") == "unassigned":
            await office.dispatcher.post(
                "dispatch",
                f"/jobs/{job_id}/assignment",
                {"engineer_id": "ENG-001", "reason": "Nobody free within the target; Lim takes it on call."},
                ok=(200, 409),
            )
            return None
        return job if job.get("engineer") else None

    assignment = await until(assigned, what=f"{job_id} to be assigned")
    engineer_id = assignment["engineer"]["engineer_id"]
    eng = await office.engineer(engineer_id)
    now = datetime.now(UTC)
    await eng.post(
        "dispatch",
        f"/jobs/{job_id}/prediagnosis",
        {
            "contacted_via": "phone",
            "confirmed_symptoms": ["Trips on high discharge temperature", "Oil visibly dark"],
            "suspected_causes": ["Thermostatic valve stuck", "Fouled oil cooler"],
            "likely_parts": [{"part_number": "1622-3600-00", "description": "Thermostatic valve kit", "quantity": 1}],
            "commitment": {
                "arrive_by": (now + timedelta(hours=7)).isoformat(),
                "resolve_by": (now + timedelta(hours=20)).isoformat(),
            },
        },
    )
    await eng.post("dispatch", f"/jobs/{job_id}/departure", {"eta": (now + timedelta(hours=1)).isoformat()})

    async def opened() -> bool:
        order = await eng.call("GET", "maintenance", f"/work-orders/{job_id}", ok=(200, 403, 404))
        return order.status_code == 200 and order.json()["status"] == "open"

    await until(opened, what=f"the work order of {job_id}")
    await eng.post("maintenance", f"/work-orders/{job_id}/arrival")
    await eng.post(
        "maintenance",
        f"/work-orders/{job_id}/diagnosis",
        {
            "measurements": [
                {"name": "Discharge temperature", "value": 110, "unit": "°C", "instrument": "Fluke 62 MAX"},
                {"name": "Oil cooler outlet temperature", "value": 96, "unit": "°C", "instrument": "Fluke 62 MAX"},
            ],
            "root_cause": "Thermostatic valve stuck open, bypassing the oil cooler",
            "scope": "Oil circuit only; motor and airend sound",
            "failure_category": "cooling",
        },
    )
    username = next(p["username"] for p in seed()["people"] if p["subject"] == engineer_id)
    return job_id, username, customer_id


async def inspect(office: Office, job_id: str, round_number: int, fail: bool) -> dict[str, Any]:
    """The inspector records the round's readings (as run_job: the discharge temperature high to fail)."""
    inspector = office.inspector

    async def opened() -> dict[str, Any] | None:
        page = await inspector.get("quality", "/inspections", params={"job_id": job_id, "status": "open"})
        return next((i for i in page["items"] if i["round"] == round_number), None)

    item = await until(opened, what=f"inspection round {round_number} of {job_id}")
    inspection = await inspector.get("quality", f"/inspections/{item['inspection_id']}")
    measurements = [
        {"code": i["code"], "value": _reading(i, fail and i["code"] == "discharge_temperature"), "unit": i["unit"]}
        for i in inspection["indicators"]
    ]
    return await inspector.post(
        "quality", f"/inspections/{item['inspection_id']}/results", {"measurements": measurements}
    )


async def _look(page: Page, name: str) -> None:
    """Fits the screen, nothing serious for axe, no errors, and a screenshot to read."""
    await page.wait_for_load_state("load")
    await assert_fits(page)
    await assert_accessible(page)
    assert_clean(page, allow=("status of 422", "status of 403"))  # the refusals this test asks for
    await screenshot(page, name)


async def _form_fields(page: Page, form_selector: str) -> dict[str, str]:
    fields: dict[str, str] = await page.eval_on_selector(
        form_selector,
        "form => Object.fromEntries([...new FormData(form).entries()].map(([k, v]) => [k, String(v)]))",
    )
    return fields


# --- the pure parts ----------------------------------------------------------------------------


def test_the_checklist_tells_what_the_customer_receives_for_each_step_in_maintenances_words():
    steps = [
        {"sequence": 1, "description": "Lock out", "safety": True},
        {"sequence": 2, "description": "Replace the valve", "safety": False},
        {"sequence": 3, "description": "Test run", "safety": False},
    ]
    work = {
        "round": 2,
        "status": "in_progress",
        "steps": steps,
        "steps_done": [{"sequence": 1, "completed_at": "2026-03-02T10:00:00Z"}],
        "skipped": [{"sequence": 2, "reason": "Done in round 1", "skipped_at": "2026-03-02T10:05:00Z"}],
    }
    rows = domain.checklist(work)
    assert [r.state for r in rows] == ["done", "skipped", "next"]
    assert rows[0].message == "Step 1 of 3 of round 2 (rework) is done: Lock out. Next: Replace the valve."
    assert rows[2].message == (
        "Step 3 of 3 of round 2 (rework) is done: Test run. "
        "All steps are done; the engineer is finishing the work report."
    )


def test_the_forms_become_the_apis_bodies_with_its_names_and_limits():
    procedure = {
        "steps": [{"step_id": "S1", "safety": True}, {"step_id": "M1"}, {"step_id": "M2"}],
        "parts": [{"part_number": "P1", "quantity": 1}],
    }
    kept = domain.plan_draft(
        {"procedure_id": "X", "keep.M1": "on", "keep.M2": "on", "parts.0.part_number": "P1", "parts.0.quantity": "1"},
        procedure,
    )
    assert kept == {"procedure_id": "X", "parts": [{"part_number": "P1", "quantity": 1.0}]}
    dropped = domain.plan_draft(
        {"procedure_id": "X", "keep.M2": "on", "added_step": "Check fan", "parts.0.part_number": "P1"}, procedure
    )
    assert dropped["steps"] == [{"procedure_step": "S1"}, {"description": "Check fan"}, {"procedure_step": "M2"}]
    assert dropped["parts"] == []
    try:
        domain.plan_draft({"procedure_id": "X", "parts.0.part_number": "P1", "parts.0.quantity": "-2"}, procedure)
    except Refusal as problem:
        assert problem.field == "parts.0.quantity"
    else:
        raise AssertionError("a negative quantity was accepted")
    body = domain.completion_body(
        {
            "parts_used.0.part_number": "P1",
            "parts_used.0.quantity": "1",
            "parts_used.1.part_number": "P9",
            "parts_used.1.quantity": "2",
            "labour_hours": "3.5",
            "repair_method": "Replaced",
        },
        [{"part_number": "P1"}],
    )
    assert body["parts_used"] == [
        {"part_number": "P1", "quantity": 1.0},
        {"part_number": "P9", "quantity": 2.0, "in_plan": False},
    ]
    review = domain.review_body({"memo": "ok", "lessons": "one\n\n two ", "follow_ups.0.kind": "monitoring"})
    assert review == {"memo": "ok", "lessons": ["one", "two"], "follow_ups": []}


# --- in the browser ----------------------------------------------------------------------------


async def test_an_engineer_plans_and_works_a_round_on_a_phone_and_a_manager_decides_on_the_plan(
    test_settings, identity_provider, database_prefix, chromium, desktop_page, phone_page, tmp_path
):
    async with (
        console_site(test_settings, database_prefix, REPAIR, tmp_path) as site,
        httpx.AsyncClient(timeout=30) as client,
        person_page(chromium, "desktop") as manager,
    ):
        office = Office(site.stack.urls(), client, test_settings)
        job_id, engineer, _ = await diagnosed_job(office)
        phone, desk = phone_page, desktop_page

        # The plan page before proposing: the procedure's steps (safety ones mandatory) and the stock.
        await site.sign_in(phone, engineer, f"/field/jobs/{job_id}/plan")
        await phone.locator("select#procedure").select_option(PROCEDURE)
        await phone.get_by_role("button", name="Use this procedure").click()
        await phone.wait_for_load_state("load")
        assert await phone.get_by_text("mandatory", exact=False).count() == 3
        assert "available" in await phone.locator(".part-row .hint").first.inner_text()
        await _look(phone, "repair-plan-form")
        await site.sign_in(desk, engineer, f"/field/jobs/{job_id}/plan?procedure={PROCEDURE}")
        await _look(desk, "repair-plan-form")

        # A bad quantity is refused beside its field, what was typed kept.
        await phone.eval_on_selector("form.plan-form", "f => f.noValidate = true")
        await phone.locator("input[name='parts.0.quantity']").fill("-1")
        await phone.get_by_label("Estimated hours").fill("4")
        await phone.get_by_role("button", name="Propose to the customer").click()
        await phone.wait_for_load_state("load")
        assert "at least 0" in await phone.locator("#parts-0-quantity-error").inner_text()
        assert await phone.locator("#parts-0-quantity").get_attribute("aria-invalid") == "true"
        assert await phone.get_by_label("Estimated hours").input_value() == "4"

        # Proposed as run_job does; the manager rejects it with comments, the engineer revises.
        await steps_repair.propose_plan(phone, site, job_id)
        assert "awaiting approval" in (await phone.locator(".plan-card").first.inner_text()).lower()
        await site.sign_in(manager, "rahman", "/manager/plans")
        card = manager.locator(f"[id='plan-{job_id}']")
        await card.wait_for()
        assert "Aminah binti Rahman" in await card.inner_text()
        await _look(manager, "repair-manager-plans")
        reject = card.locator("form.reject")
        await reject.get_by_label("Why rejected").fill("Too long a stop; keep the cooler inspection for later.")
        await reject.get_by_role("button", name="Reject with these comments").click()
        await manager.get_by_text(f"The plan of {job_id} is rejected").wait_for()

        await phone.goto(f"{site.url}/field/jobs/{job_id}/plan")
        assert "Too long a stop" in await phone.locator(".plan-card").first.inner_text()
        assert "rejected" in (await phone.locator(".plan-card").first.inner_text()).lower()
        await phone.locator("select#procedure").select_option(PROCEDURE)
        await phone.get_by_role("button", name="Use this procedure").click()
        await phone.wait_for_load_state("load")
        await phone.get_by_label("Inspect the oil cooler fins").uncheck()
        await phone.get_by_role("button", name="Propose to the customer").click()
        await phone.get_by_text("Plan revision 2 proposed").wait_for()
        await _look(phone, "repair-plan-proposed")

        await steps_repair.approve_plan(manager, site, job_id)
        await _look(manager, "repair-manager-approved")
        order = await office.manager.get("maintenance", f"/work-orders/{job_id}")
        assert [p["status"] for p in order["plans"]] == ["rejected", "approved"]
        assert order["plans"][1]["decided_by"]["name"] == "Aminah binti Rahman"
        assert len(order["plans"][1]["steps"]) == 6

        # Another role is refused: the manager's page to an engineer, the engineer's to a manager.
        assert (await phone.goto(f"{site.url}/manager/plans")).status == 403
        assert (await manager.goto(f"{site.url}/field/jobs/{job_id}/work")).status == 403

        # The round: started, its steps in order with what the customer is told.
        await phone.goto(f"{site.url}/field/jobs/{job_id}/work")
        await phone.get_by_role("button", name="Start round 1").click()
        await phone.get_by_role("button", name="Step 1 done").wait_for()
        first = phone.locator("#next-step")
        assert "A safety step cannot be skipped" in await first.inner_text()
        assert await first.locator("details.skip").count() == 0
        assert "Next: Close the outlet valve" in await first.locator(".customer-message").inner_text()

        # Skipping a safety step anyway (a crafted form) is refused beside the step.
        fields = await _form_fields(phone, "form.complete-step")
        crafted = {**fields, "action": "skip", "reason": "In a hurry", "form_key": fields["form_key"][::-1]}
        refused = await phone.request.post(f"{site.url}/field/jobs/{job_id}/work", form=crafted)
        assert refused.status == 422
        assert "mandatory safety step and cannot be skipped" in await refused.text()

        # A double submit completes the step once: the second lands on the first's result.
        fields = await _form_fields(phone, "form.complete-step")
        url = f"{site.url}/field/jobs/{job_id}/work"
        twice = await asyncio.gather(*(phone.request.post(url, form=fields) for _ in range(2)))
        assert [r.status for r in twice] == [200, 200], [r.status for r in twice]
        order = await office.manager.get("maintenance", f"/work-orders/{job_id}")
        assert [d["sequence"] for d in order["rounds"][0]["steps_done"]] == [1]
        await phone.reload()
        told = await phone.locator(".step.done .customer-message").inner_text()
        assert "The customer was told:" in told
        assert "Step 1 of 6 of the repair is done: Isolate the electrical supply" in told
        await _look(phone, "repair-work-steps")
        await desk.goto(f"{site.url}/field/jobs/{job_id}/work")
        await _look(desk, "repair-work-steps")

        # The other steps; draining the oil (not a safety step) skipped with a reason.
        while await phone.locator("form.complete-step").count():
            step = phone.locator("#next-step")
            if "Drain the oil" in await step.locator(".step-text").inner_text():
                await step.locator("details.skip summary").click()
                await step.get_by_label("Why is it skipped?").fill(
                    "Oil changed 200 running hours ago; sample is clean."
                )
                await step.get_by_role("button", name="Skip step").click()
            else:
                await step.get_by_role("button", name="done").click()
            await phone.wait_for_load_state("load")
        assert "Reason: Oil changed 200 running hours ago" in await phone.locator(".step.skipped").inner_text()

        # A part outside the plan without its reason: refused beside the reason, what was typed kept.
        form = phone.locator("form.complete-round")
        await form.locator("select[name='parts_used.3.part_number']").select_option("2901-1000-05")
        await form.get_by_label("Its quantity").fill("2")
        await form.get_by_label("Hours worked in this round").fill("3.5")
        await form.get_by_label("What was done (for the report)").fill(steps_repair.METHOD[1])
        await form.get_by_role("button", name="Complete round 1").click()
        await phone.wait_for_load_state("load")
        reason = phone.locator("#parts_used-3-reason-error")
        assert "give a reason" in await reason.inner_text()
        assert await phone.get_by_label("Hours worked in this round").input_value() == "3.5"
        await _look(phone, "repair-work-refused")
        await phone.get_by_label("Why it was needed").fill("Oil cooler fouled; cleaned during the round.")
        await phone.get_by_role("button", name="Complete round 1").click()
        await phone.get_by_role("heading", name="Round 1 report").wait_for()
        assert "Awaiting the quality inspection" in await phone.locator("main").inner_text()
        order = await office.manager.get("maintenance", f"/work-orders/{job_id}")
        used = {p["part_number"]: p["quantity"] for p in order["rounds"][0]["parts_used"]}
        assert used == {"1622-3600-00": 1, "1625-4800-00": 1, "2901-0522-00": 10, "2901-1000-05": 2}
        assert order["status"] == "awaiting_inspection"
        await _look(phone, "repair-work-completed")


async def test_a_failed_inspection_brings_a_rework_round_and_the_engineer_writes_the_review(
    test_settings, identity_provider, database_prefix, chromium, desktop_page, phone_page, tmp_path
):
    services = ("intake", "dispatch", "maintenance", "quality", "reporting", "feedback")
    async with (
        console_site(test_settings, database_prefix, services, tmp_path) as site,
        httpx.AsyncClient(timeout=30) as client,
    ):
        office = Office(site.stack.urls(), client, test_settings)
        job_id, engineer, _ = await diagnosed_job(office)
        phone = phone_page
        await site.sign_in(phone, engineer, f"/field/jobs/{job_id}/plan")
        await steps_repair.propose_plan(phone, site, job_id)
        await site.sign_in(desktop_page, "rahman", "/manager/plans")
        await steps_repair.approve_plan(desktop_page, site, job_id)
        assert await steps_repair.work_round(phone, site, job_id, 1) == 7

        # Before the report is out, the review is refused and the memo kept.
        await phone.goto(f"{site.url}/field/jobs/{job_id}/review")
        await phone.get_by_label("Memo").fill("Too early")
        await phone.get_by_role("button", name="Record the review").click()
        await phone.wait_for_load_state("load")
        assert await phone.locator(".notice.refusal").inner_text()
        assert await phone.get_by_label("Memo").input_value() == "Too early"
        await _look(phone, "repair-review-refused")

        first = await inspect(office, job_id, 1, fail=True)
        assert first["status"] == "failed"
        await phone.goto(f"{site.url}/field/jobs/{job_id}/work")
        start = phone.get_by_role("button", name="Start round 2")
        for _ in range(60):
            if await start.count():
                break
            await asyncio.sleep(0.5)
            await phone.reload()
        assert "Round 2 (rework)" in await phone.locator("#round-heading").inner_text()
        assert "outlet temperature, full load: measured 110 °C" in await phone.locator(".rework").inner_text()
        assert await phone.locator(".checklist .step").count() == 5
        await _look(phone, "repair-rework-ready")
        assert await steps_repair.work_round(phone, site, job_id, 2) == 5
        assert "Earlier rounds" in await phone.locator("main").inner_text()
        second = await inspect(office, job_id, 2, fail=False)
        assert second["status"] == "passed"

        await steps_repair.write_review(phone, site, job_id)
        memo = phone.locator(".review-memo")
        assert steps_repair.MEMO in await memo.inner_text()
        assert steps_repair.LESSON in await memo.inner_text()
        await _look(phone, "repair-review")
        async with person_page(chromium, "desktop") as desk:
            await site.sign_in(desk, engineer, f"/field/jobs/{job_id}/review")
            await _look(desk, "repair-review")
        feedback = await office.manager.get("feedback", f"/jobs/{job_id}/feedback")
        assert feedback["review"]["memo"] == steps_repair.MEMO
        assert feedback["review"]["reviewer"]["role"] == "engineer"
