"""The console's pure rules: the page to return to after sign-in, and the board row from events."""

from datetime import UTC, datetime, timedelta

import pytest
from console_service.board import domain
from console_service.sessions.domain import safe_next

from compressor_kit.refusals import Refusal

from .console_story import job_event


@pytest.mark.parametrize(
    ("asked", "goes_to"),
    [
        ("/jobs/JOB-1?x=1", "/jobs/JOB-1?x=1"),
        (None, "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/auth/logout", "/"),
        ("jobs", "/"),
    ],
)
def test_sign_in_returns_only_to_a_page_of_the_console(asked, goes_to):
    assert safe_next(asked) == goes_to


def test_a_row_takes_what_each_event_says_and_an_older_event_does_not_undo_a_newer_one():
    requested = job_event("job.requested.v1", "JOB-1")
    row = domain.board_row(None, requested)
    assert (row["_id"], row["phase"], row["status"], row["sla"]) == ("JOB-1", 1, "open", None)
    later = job_event("job.work_started.v1", "JOB-1").model_copy(update={"time": requested.time + timedelta(hours=5)})
    row = domain.board_row(row, later)
    assert row["phase"] == 5
    assert domain.board_row(row, requested)["phase"] == 5, "a late job.requested does not move the job back"
    breached = domain.board_row(row, job_event("job.sla_breached.v1", "JOB-1"))
    assert breached["sla"] == "breached"
    assert domain.board_row(breached, job_event("job.sla_at_risk.v1", "JOB-1"))["sla"] == "breached"
    assert domain.board_row(row, job_event("job.cancelled.v1", "JOB-1"))["status"] == "cancelled"
    assert domain.column_of(domain.board_row(row, job_event("job.closed.v1", "JOB-1"))) == "closed"


def test_the_board_groups_open_jobs_by_phase_most_urgent_first():
    now = datetime.now(UTC)
    rows = [
        {"_id": "A", "phase": 2, "status": "open", "priority": "low", "sla": None, "updated_at": now},
        {"_id": "B", "phase": 2, "status": "open", "priority": "low", "sla": "breached", "updated_at": now},
        {"_id": "C", "phase": 2, "status": "open", "priority": "critical", "sla": None, "updated_at": now},
        {"_id": "D", "phase": 9, "status": "closed", "priority": "low", "sla": None, "updated_at": now},
    ]
    columns = {c.key: [r["_id"] for r in c.rows] for c in domain.columns(rows)}
    assert columns["phase-2"] == ["B", "C", "A"] and columns["closed"] == ["D"]
    with pytest.raises(Refusal):
        domain.BoardFilter(priority="urgent")
