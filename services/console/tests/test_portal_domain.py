"""The customer portal's pure rules: what each event tells the customer, where a job stands whatever order
the events came in, the customer's texts in Malay, the request form's checks and whose things are whose."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from console_service.portal import domain

from compressor_contracts.common import Language

from .console_story import job_event

JOB = "JOB-2026-000042"
ORDER = [
    "job.requested.v1",
    "job.assigned.v1",
    "job.prediagnosed.v1",
    "job.engineer_dispatched.v1",
    "job.engineer_arrived.v1",
    "job.diagnosed.v1",
    "job.plan_proposed.v1",
    "job.plan_approved.v1",
    "job.work_started.v1",
    "job.progress_reported.v1",
    "job.work_completed.v1",
    "job.inspection_failed.v1",
]
STAGE_AFTER = {
    "job.requested.v1": "received",
    "job.assigned.v1": "assigned",
    "job.prediagnosed.v1": "committed",
    "job.engineer_dispatched.v1": "on_the_way",
    "job.engineer_arrived.v1": "on_site",
    "job.diagnosed.v1": "diagnosed",
    "job.plan_proposed.v1": "plan_waiting",
    "job.plan_approved.v1": "plan_approved",
    "job.work_started.v1": "working",
    "job.progress_reported.v1": "working",
    "job.work_completed.v1": "inspecting",
    "job.inspection_failed.v1": "rework",
}


def _events() -> list[Any]:
    """One job's events up to a failed first inspection, ten minutes apart, all of round 1."""
    first = job_event(ORDER[0], JOB)
    events = []
    for n, key in enumerate(ORDER):
        event = job_event(key, JOB)
        if hasattr(event.data, "round"):
            event = job_event(key, JOB, round=1, **({"rework_indicators": []} if key == "job.work_started.v1" else {}))
        events.append(event.model_copy(update={"time": first.time + timedelta(minutes=10 * n)}))
    return events


def _fold(events: list[Any]) -> dict[str, Any]:
    job: dict[str, Any] | None = None
    for event in events:
        job = domain.portal_job(job, event)
    assert job is not None
    return job


def test_each_event_moves_the_job_on_for_the_customer_with_what_happens_next():
    job: dict[str, Any] | None = None
    for event in _events():
        job = domain.portal_job(job, event)
        stage = domain.stage_of(job)
        assert stage.key == STAGE_AFTER[event.data.routing_key()], event.data.routing_key()
    assert job is not None
    assert job["customer_id"] == "CUST-0107" and job["engineer"] == {"name": "Lim Wei Jie"}
    assert job["commitment"]["arrive_by"] and job["eta"]
    waiting = domain.stage_of({**job, "plans": {"1": {"status": "proposed"}}, "rounds": {}, "inspections": []})
    assert waiting.action == f"/portal/jobs/{JOB}/plan" and waiting.needs_customer


def test_where_a_job_stands_does_not_depend_on_the_order_its_events_came_in():
    events = _events()
    assert domain.stage_of(_fold(events)) == domain.stage_of(_fold(list(reversed(events))))
    assert _fold(events)["customer_id"] == _fold(list(reversed(events)))["customer_id"]


def test_a_redelivered_event_changes_nothing_and_each_step_is_kept_once():
    events = _events()
    job = _fold(events)
    again = _fold([*events, events[9], events[11]])
    assert again["progress"] == job["progress"] and again["inspections"] == job["inspections"]
    assert len(job["progress"]) == 1


def test_the_customer_reads_progress_inspections_and_plan_steps_in_malay_where_there_is_malay():
    job = _fold(_events())
    [line] = domain.progress_lines(job, Language.MS)
    assert line["text"].startswith("Injap termostatik telah diganti")
    assert domain.progress_lines(job, Language.EN)[0]["text"] == job["progress"][0]["message"]
    indicators = job["inspections"][0]["indicators"]
    indicators[0]["name_ms"] = "Tekanan nyahcas"
    [inspection] = domain.inspection_results(job, Language.MS)
    assert not inspection["passed"] and not inspection["indicators"][0]["passed"], "the failed indicators come first"
    named = {i["code"]: i["label"] for i in inspection["indicators"]}
    assert named[indicators[0]["code"]] == "Tekanan nyahcas"
    assert named["vibration"] == "Vibration velocity (ISO 10816 class II)", "English where no Malay is given"
    steps = domain.plan_steps(
        [{"description": "Isolate", "description_ms": "Asingkan"}, {"description": "Vent"}], Language.MS
    )
    assert [s["text"] for s in steps] == ["Asingkan", "Vent"]


def test_a_report_survey_and_close_finish_the_story_and_a_cancelled_job_says_so():
    job = _fold(_events())
    last = _events()[-1].time
    for n, key in enumerate(["job.inspection_passed.v1", "job.report_published.v1", "job.survey_sent.v1"], 1):
        job = domain.portal_job(job, job_event(key, JOB).model_copy(update={"time": last + timedelta(hours=n)}))
    stage = domain.stage_of(job)
    assert stage.key == "report_ready" and stage.action == f"/portal/jobs/{JOB}/survey"
    job = domain.portal_job(job, job_event("job.feedback_received.v1", JOB))
    assert domain.stage_of(job).key == "thanked"
    assert domain.stage_of(domain.portal_job(job, job_event("job.closed.v1", JOB))).key == "closed"
    cancelled = domain.portal_job(job, job_event("job.cancelled.v1", JOB))
    assert domain.stage_of(domain.portal_job(cancelled, job_event("job.closed.v1", JOB))).key == "cancelled"


def test_a_customer_owns_only_its_own_jobs_and_machines():
    job = _fold(_events())
    assert domain.owns(job, "CUST-0107")
    assert not domain.owns(job, "CUST-OTHER")
    assert not domain.owns(None, "CUST-0107")
    assert not domain.owns({"_id": JOB, "customer_id": None}, "CUST-0107"), "not before job.requested says whose"
    file = {"sites": [{"site_id": "S1", "name": "Plant", "equipment": [{"equipment_id": "EQ-1", "brand": "A"}]}]}
    assert domain.find_unit(file, "EQ-1") is not None and domain.find_unit(file, "EQ-2") is None


def test_the_request_form_needs_one_of_the_customers_machines_and_the_fault():
    machines = [domain.Machine("EQ-1", "SITE-1", "Plant 2", "Atlas Copco GA37 · API1")]
    form = domain.request_form({"equipment_id": "EQ-1", "fault_description": "  Trips at 110 °C  "}, machines)
    assert not form.errors
    assert domain.request_body(form, "CUST-1", ["CUST-1/ab12-display.jpg"]) == {
        "channel": "portal",
        "customer_id": "CUST-1",
        "site_id": "SITE-1",
        "equipment_id": "EQ-1",
        "fault_description": "Trips at 110 °C",
        "photo_keys": ["CUST-1/ab12-display.jpg"],
    }
    refused = domain.request_form({"equipment_id": "EQ-OF-ANOTHER", "fault_description": ""}, machines)
    assert set(refused.errors) == {"equipment_id", "fault_description"}
    assert (
        "fault_description"
        in domain.request_form({"equipment_id": "EQ-1", "fault_description": "x" * 2001}, machines).errors
    )


def test_the_portal_opens_in_the_language_of_the_person_signing_in_else_the_main_contacts():
    file = {
        "contacts": [
            {"name": "Main", "email": "main@x.example", "language": "ms"},
            {"name": "Other", "email": "Other@x.example", "language": "en"},
        ]
    }
    assert domain.contact_language(file, "other@x.example") == "en"
    assert domain.contact_language(file, None) == "ms"
    assert domain.contact_language(file, "nobody@x.example") == "ms"
    assert domain.contact_language({"contacts": []}, None) is None


def test_every_report_once_newest_first_and_the_survey_answer_checked():
    job = domain.portal_job(_fold(_events()), job_event("job.report_published.v1", JOB))
    history = [{"job_id": "JOB-OLD", "service_date": "2025-01-02", "machine": "M", "record_version": 1}]
    found = domain.reports_of([job, _fold(_events()[:3])], history)
    assert [r["job_id"] for r in found] == [JOB, "JOB-OLD"]
    assert domain.survey_answer({"csat": "5", "nps": "9", "comments": " Good "}) == (
        {"csat": 5, "nps": 9, "comments": "Good"},
        {},
    )
    body, errors = domain.survey_answer({"csat": "6", "nps": ""})
    assert set(errors) == {"csat", "nps"} and body == {}
