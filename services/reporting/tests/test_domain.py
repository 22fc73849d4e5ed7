"""Pure rules: phase stints, record building, signatures, report languages, retention, KPI arithmetic."""

import io
import random
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from compressor_contracts import StoredObject, new_event
from compressor_contracts.common import Language
from compressor_contracts.events.telemetry import ReadingSummary
from compressor_contracts.examples import example
from compressor_kit.refusals import Refusal
from compressor_kit.runtime import Runtime
from reporting_service.app import SERVICE
from reporting_service.backups.domain import databases_to_back_up, expired
from reporting_service.kpis.domain import finish, net_promoter_score, pareto
from reporting_service.records.domain import (
    NEW_VERSION,
    NOTHING,
    PENDING_VERSION_MUST_SHOW_IT,
    MissingFacts,
    after_signature,
    build_record,
    outcome,
    record_id_for,
    report_in,
    report_key,
)
from reporting_service.records.pdf import render_report
from reporting_service.settings import ReportingSettings
from reporting_service.timeline.consumers import consumers
from reporting_service.timeline.domain import (
    follows,
    seconds_per_phase,
    stints,
    summarise,
    summary_after,
    timeline_entry,
)

from .reporting_story import Job


def entries(job: Job):
    return [timeline_entry(e) for e in job.build()]


def test_time_before_an_event_belongs_to_its_phase_and_rounds_are_separate_stints():
    job = Job("J", rounds=3)
    result = [(s.phase, s.round, s.seconds / 3600) for s in stints(entries(job))]
    assert result[:4] == [(1, None, 0.5), (2, None, 2.5), (3, None, 2.0), (4, None, 1.0)]
    assert result[4:] == [(5, 1, 1.0), (6, 1, 0.5), (5, 2, 2.5), (6, 2, 0.5), (5, 3, 2.5), (6, 3, 0.5)]


def test_the_summary_follows_the_latest_phase_and_cancellation():
    job = Job("J", rounds=2)
    summary = summarise("J", entries(job))
    assert (summary["phase"], summary["status"], summary["rework_rounds"], summary["work_rounds"]) == (6, "open", 1, 2)
    assert summary["engineer_id"] == "ENG-014" and summary["customer_id"] == "CUST-0107"


@pytest.mark.parametrize("seed", range(6))
def test_the_summary_updated_event_by_event_is_the_summary_of_all_the_events(seed):
    """As the consumer keeps it: updated from the summary alone for an event that comes after every other,
    recomputed from all the events otherwise (an event late from another producer)."""
    job = Job("J", rounds=2)
    arrivals = entries(job)
    if seed:  # seed 0: all in order
        random.Random(seed).shuffle(arrivals)
    summary, seen, updated = None, [], 0
    for entry in arrivals:
        seen.append(entry)
        if summary is not None and follows(summary, entry):
            summary, updated = summary_after(summary, entry), updated + 1
        else:
            summary = summarise("J", seen)
        assert summary == summarise("J", seen)
        assert summary["seconds_per_phase"] == seconds_per_phase(stints(seen))  # the timeline's own figures
    if not seed:
        assert updated == len(arrivals) - 1  # in order, only the first event reads the others


def test_a_record_waits_for_missing_facts_and_then_holds_every_round():
    job = Job("J", rounds=2)
    facts = entries(job)
    without_round_one = [f for f in facts if not (f["event"] == "job.work_completed" and f["round"] == 1)]
    with pytest.raises(MissingFacts, match="round 1"):
        build_record("J", without_round_one)
    record = build_record("J", facts)
    assert record["labour_hours"] == 5.5 and record["inspection_rounds"] == 2
    assert record["parts_used"][0]["quantity"] == 2  # the same part in both rounds, added up
    assert record["elapsed_seconds"] == 10.5 * 3600


def test_the_record_is_the_job_as_its_timeline_stood_when_the_inspection_passed():
    job = Job("J", rounds=1)
    timeline = entries(job)
    later = new_event(
        example("job.report_published.v1").model_copy(update={"job_id": "J"}),
        source_service="reporting",
        subject="J",
        time=job.passed_at + timedelta(minutes=5),
    )
    record = build_record("J", [*timeline, timeline_entry(later)])
    assert record == build_record("J", timeline)  # what came after the pass is not in it
    # the whole timeline counts, the dispatch too: the record's time per phase is the timeline's
    assert record["seconds_per_phase"] == summarise("J", timeline)["seconds_per_phase"]


def test_reporting_consumes_one_queue_so_each_event_costs_one_transaction():
    runtime = Runtime(SERVICE, ReportingSettings())  # builds the consumers without connecting
    assert [c.queue for c in consumers(runtime)] == ["reporting.timeline"]
    assert [q.name for q in runtime.topology.queues] == ["reporting.timeline"]


def test_the_commitment_is_missed_when_arrival_is_late():
    job = Job("J", rounds=1, arrive_after_h=9, arrive_by_h=8, resolve_by_h=20)
    record = build_record("J", entries(job))
    assert record["arrive_by_met"] is False and record["resolve_by_met"] is True


def test_record_ids_and_report_keys_are_predictable():
    assert record_id_for("JOB-1") == record_id_for("JOB-1") != record_id_for("JOB-2")
    assert report_key("JOB-1", 3, datetime(2026, 3, 2, tzinfo=UTC), Language.MS) == "2026/03/JOB-1/v3/ms/report.pdf"


def test_retention_keeps_the_newest_of_each_recent_day_and_month():
    base = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    backups = [
        ("d10b", base + timedelta(hours=12)),
        ("d10a", base),
        ("d09", base - timedelta(days=1)),
        ("d08", base - timedelta(days=2)),
        ("feb28", datetime(2026, 2, 28, 2, tzinfo=UTC)),
        ("feb01", datetime(2026, 2, 1, 2, tzinfo=UTC)),
        ("jan31", datetime(2026, 1, 31, 2, tzinfo=UTC)),
        ("dec31", datetime(2025, 12, 31, 2, tzinfo=UTC)),
    ]
    # daily: d10b, d09; monthly: d10b (March), feb28 (February), jan31 (January)
    assert expired(backups, keep_daily=2, keep_monthly=3) == {"d10a", "d08", "feb01", "dec31"}
    assert expired([], 1, 1) == set()


def test_every_service_database_is_backed_up_once():
    assert databases_to_back_up("", lambda s: f"prod_{s}") == sorted(
        f"prod_{s}" for s in ("intake", "dispatch", "maintenance", "quality", "reporting", "feedback", "telemetry")
    )
    assert databases_to_back_up("", lambda s: "shared") == ["shared"]
    assert databases_to_back_up("a, b", lambda s: s) == ["a", "b"]


def test_kpi_arithmetic():
    assert net_promoter_score(promoters=2, detractors=1, responses=3) == 33.3
    assert net_promoter_score(0, 0, 0) is None
    figures = finish(
        {
            "jobs": 4,
            "mttr_seconds": 9 * 3600,
            "mtta_seconds": None,
            "first_time_fixes": 2,
            "reworked": 1,
            "arrive_by_met": 1,
            "arrive_by_committed": 2,
            "resolve_by_met": 0,
            "resolve_by_committed": 0,
            "csat_average": 4.0,
            "promoters": 1,
            "detractors": 0,
            "responses": 1,
        }
    )
    assert figures["mttr_hours"] == 9.0 and figures["first_time_fix_rate"] == 0.5
    assert figures["resolve_by_compliance"] is None and figures["nps"] == 100.0
    causes = pareto(
        [
            {"model_code": "A", "failure_category": "leaks", "count": 1},
            {"model_code": "A", "failure_category": "cooling", "count": 3},
        ]
    )
    assert causes == [
        {
            "model_code": "A",
            "jobs": 4,
            "causes": [
                {"failure_category": "cooling", "count": 3, "share": 0.75, "cumulative_share": 0.75},
                {"failure_category": "leaks", "count": 1, "share": 0.25, "cumulative_share": 1.0},
            ],
        }
    ]


def signature_on(job: Job, hours: float, **what):
    image = StoredObject(
        bucket="test-signatures", object_key="s.png", sha256="0" * 64, size_bytes=10, content_type="image/png"
    )
    return timeline_entry(job.signed(image, hours=hours, **what))


def test_the_record_shows_every_signature_once_in_signing_order_even_one_given_after_the_pass():
    job = Job("J", rounds=1)
    timeline = entries(job)
    hours_after_pass = (job.passed_at - job.start).total_seconds() / 3600 + 0.5
    acceptance = signature_on(job, hours_after_pass, round=1, signer="Puan Siti")
    approval = signature_on(job, 6.1, plan_revision=1, signer="Encik Faizal")
    record = build_record("J", [*timeline, acceptance, approval, acceptance])
    assert [(s["signer"]["name"], s["signed_for"]) for s in record["signatures"]] == [
        ("Encik Faizal", "plan_approval"),
        ("Puan Siti", "work_acceptance"),
    ]


def test_a_signature_changes_the_pending_version_or_adds_one_to_a_published_record():
    published = {"status": "published", "content": {"signatures": [{"signature_id": "S1"}]}}
    assert after_signature(None, "S1") == NOTHING  # version 1 reads it from the timeline
    assert after_signature({"status": "pending"}, "S2") == PENDING_VERSION_MUST_SHOW_IT
    assert after_signature({"status": "abandoned"}, "S2") == NOTHING
    assert after_signature(published, "S1") == NOTHING
    assert after_signature(published, "S2") == NEW_VERSION


def test_the_report_link_serves_the_contacts_language_unless_asked_and_old_versions_in_english():
    ms, en = {"object_key": "v1/ms/report.pdf"}, {"object_key": "v1/en/report.pdf"}
    bilingual = {"version": 1, "language": "ms", "report": ms, "reports": {"ms": ms, "en": en}}
    assert report_in(bilingual, None) == (Language.MS, ms)
    assert report_in(bilingual, Language.EN) == (Language.EN, en)
    english_only = {"version": 1, "report": en}  # published before reports were bilingual
    assert report_in(english_only, None) == (Language.EN, en)
    with pytest.raises(Refusal) as refused:
        report_in(english_only, Language.MS)
    assert refused.value.field == "language"


def test_a_signature_whose_image_failed_its_check_is_shown_without_it():
    job = Job("J", rounds=1, language=Language.MS)
    content = build_record("J", [*entries(job), signature_on(job, 6.1, plan_revision=1, signer="Encik Faizal")])
    record = {"record_id": "REC-1", "version": 1, "content": content}
    pdf = render_report(record, Language.MS, images={})
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Encik Faizal" in text and "Imej tandatangan tiada atau gagal semakan kesahihan." in text
    assert [i for p in PdfReader(io.BytesIO(pdf)).pages for i in p.images] == []
    assert render_report(record, Language.MS, images={}) == pdf  # deterministic


def _machine_raised(job: Job, readings: list[ReadingSummary], typed: int | None) -> list[dict]:
    """The job's timeline as if the machine raised it: its request carries `readings`, and the engineer
    typed `typed` running hours (or none) at the diagnosis."""
    changed = []
    for event in job.build():
        if event.data.name == "job.requested":
            event = event.model_copy(update={"data": event.data.model_copy(update={"machine_readings": readings})})
        elif event.data.name == "job.diagnosed":
            event = event.model_copy(update={"data": event.data.model_copy(update={"running_hours": typed})})
        changed.append(timeline_entry(event))
    return changed


def test_the_report_gives_the_controllers_running_hours_nearest_the_visit_when_the_engineer_typed_none():
    job = Job("J", rounds=1, language=Language.MS)
    readings = [
        ReadingSummary(read_at=job.at(hours), running_hours=25_860 + round(hours), element_outlet_temperature_c=90)
        for hours in (-20, -2, 0.5)
    ]
    readings.append(ReadingSummary(read_at=job.at(1), element_outlet_temperature_c=121, alarms=["E0107"]))
    typed = build_record("J", _machine_raised(job, readings, typed=25_861))
    assert (typed["running_hours"], typed["running_hours_source"]) == (25_861, "engineer")

    content = build_record("J", _machine_raised(job, readings, typed=None))
    # The engineer arrived at 4 h: the nearest reading with running hours is the one at 0.5 h.
    assert (content["running_hours"], content["running_hours_source"]) == (25_860, "controller")
    assert content["running_hours_read_at"] == job.at(0.5).isoformat().replace("+00:00", "Z")
    assert outcome(content).running_hours == 25_860  # the customer file hears it too

    record = {"record_id": "REC-1", "version": 1, "content": content}
    for language, words in ((Language.EN, "read by the machine's controller"), (Language.MS, "dibaca oleh pengawal")):
        pdf = render_report(record, language, images={})
        text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
        assert "25,860" in text or "25860" in text, text[:1500]
        assert words in text, text[:3000]

    unread = build_record("J", _machine_raised(job, [], typed=None))
    assert unread["running_hours"] is None and unread["running_hours_source"] is None
