"""Pure rules: channels, keys, backoff, signatures, answers, closing; every template renders."""

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from compressor_contracts.common import NotificationChannel, StaffMember, StaffRole
from compressor_contracts.examples import example
from compressor_kit.i18n import speaking
from compressor_kit.refusals import Refusal, RefusalKind
from feedback_service.jobs.domain import Job
from feedback_service.notifications.domain import (
    NOTICES,
    Audience,
    Destination,
    customer_destination,
    needs_webhook,
    notification_id,
    notification_key,
    retry_delay,
    sign,
    verify,
)
from feedback_service.review.domain import closing_event, ready_to_close, review
from feedback_service.settings import FeedbackSettings
from feedback_service.surveys.domain import Answer, check_answerable, is_low_score, parse_answer, token_hash
from feedback_service.templates import in_language, message_exists, render_message, written_time

MALAYSIA = ZoneInfo("Asia/Kuala_Lumpur")

EMAIL, WEBHOOK = NotificationChannel.EMAIL, NotificationChannel.WEBHOOK


def test_the_customer_is_reached_on_the_preferred_channel_with_e_mail_as_the_fallback():
    hook = "https://customer.example/hooks"
    assert customer_destination(WEBHOOK, "a@b.co", hook) == Destination(WEBHOOK, hook)
    assert customer_destination(WEBHOOK, "a@b.co", None) == Destination(EMAIL, "a@b.co")
    assert customer_destination(EMAIL, "a@b.co", hook) == Destination(EMAIL, "a@b.co")
    assert customer_destination(EMAIL, None, hook) == Destination(WEBHOOK, hook)
    assert customer_destination(EMAIL, None, None) is None


def test_the_webhook_is_looked_up_only_where_it_can_decide_the_channel():
    hook = "https://customer.example/hooks"
    for preferred in (EMAIL, WEBHOOK):
        for email in ("a@b.co", None):
            if not needs_webhook(preferred, email):  # then the webhook changes nothing
                assert customer_destination(preferred, email, hook) == customer_destination(preferred, email, None)
    assert needs_webhook(WEBHOOK, "a@b.co") and needs_webhook(EMAIL, None)
    assert not needs_webhook(EMAIL, "a@b.co")


def test_one_notification_id_per_event_recipient_and_channel():
    key = notification_key("evt-1", Audience.CUSTOMER, EMAIL, "a@b.co")
    assert notification_id(key) == notification_id(notification_key("evt-1", Audience.CUSTOMER, EMAIL, "a@b.co"))
    assert notification_id(key) != notification_id(notification_key("evt-2", Audience.CUSTOMER, EMAIL, "a@b.co"))
    assert notification_id(key) != notification_id(notification_key("evt-1", Audience.CUSTOMER, EMAIL, "c@d.co"))


def test_retries_back_off_exponentially_up_to_a_cap():
    assert [retry_delay(n, 30, 300).total_seconds() for n in (1, 2, 3, 4, 5, 50)] == [30, 60, 120, 240, 300, 300]


def test_a_webhook_signature_verifies_only_with_the_secret_the_body_and_a_recent_timestamp():
    now = time.time()
    stamp = str(int(now))
    signature = sign("s3cret", stamp, b'{"a":1}')
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify("s3cret", stamp, b'{"a":1}', signature, now)
    assert not verify("other", stamp, b'{"a":1}', signature, now)
    assert not verify("s3cret", stamp, b'{"a":2}', signature, now)
    assert not verify("s3cret", str(int(now) - 1), b'{"a":1}', signature, now)
    assert not verify("s3cret", stamp, b'{"a":1}', signature, now + 301)
    assert not verify("s3cret", "yesterday", b'{"a":1}', signature, now)


@pytest.mark.parametrize(
    ("csat", "nps", "field"),
    [
        (0, 5, "csat"),
        (6, 5, "csat"),
        ("x", 5, "csat"),
        (None, 5, "csat"),
        (True, 5, "csat"),
        (3, 11, "nps"),
        (3, -1, "nps"),
        (3, "", "nps"),
        (3, 2.5, "nps"),
    ],
)
def test_an_answer_out_of_range_names_the_field(csat, nps, field):
    with pytest.raises(Refusal) as refused:
        parse_answer(csat, nps, None)
    assert refused.value.kind is RefusalKind.INVALID and refused.value.field == field


def test_form_strings_and_api_numbers_give_the_same_answer():
    assert parse_answer("5", "10", "  fine  ") == Answer(5, 10, "fine") == parse_answer(5, 10, "fine")
    assert parse_answer(1, 0, "   ") == Answer(1, 0, None)


def test_a_survey_answered_or_expired_cannot_be_answered():
    now = datetime(2026, 3, 10, tzinfo=UTC)
    assert check_answerable("open", now + timedelta(seconds=1), now) is None
    for status, expires_at, kind in [
        ("open", now, RefusalKind.GONE),
        ("expired", now + timedelta(days=1), RefusalKind.GONE),
        ("answered", now - timedelta(days=1), RefusalKind.CONFLICT),
    ]:
        with pytest.raises(Refusal) as refused:
            check_answerable(status, expires_at, now)
        assert refused.value.kind is kind, status


def test_low_scores_are_low_csat_or_detractor_nps():
    assert is_low_score(Answer(2, 9, None), 2, 6)
    assert is_low_score(Answer(5, 6, None), 2, 6)
    assert not is_low_score(Answer(3, 7, None), 2, 6)


def test_tokens_are_stored_as_hashes():
    assert token_hash("abc") == token_hash("abc") != token_hash("abd")
    assert len(token_hash("abc")) == 64


def _job(**changes):
    report = example("job.report_published.v1")
    requested = example("job.requested.v1")
    job = {
        "job_id": "JOB-1",
        **{k: getattr(requested, k).model_dump(mode="json") for k in ("customer", "contact", "site", "equipment")},
        "priority": requested.priority.value,
        "fault_description": requested.fault_description,
        "closed_at": None,
        "cancelled": False,
        "reviewed_at": datetime(2026, 3, 9, tzinfo=UTC),
        "survey_status": "answered",
        "csat": 4,
        "nps": 9,
        "record": {
            "record_id": report.record_id,
            "record_version": 1,
            "report": report.report.model_dump(mode="json"),
            "outcome": report.outcome.model_dump(mode="json"),
        },
        "review": {
            "reviewer": {"user_id": "u-manager-1", "name": "Tan Mei Ling", "role": "manager"},
            "memo": "Valve replaced.",
            "lessons": [],
            "follow_ups": [{"kind": "monitoring", "description": "Watch the temperature.", "due_on": None}],
        },
    }
    return Job.model_validate(job | changes)


def test_a_job_closes_once_reviewed_and_the_survey_answered_or_expired():
    assert ready_to_close(_job())
    assert ready_to_close(_job(survey_status="expired"))
    assert not ready_to_close(_job(survey_status="open"))
    assert not ready_to_close(_job(reviewed_at=None))
    assert not ready_to_close(_job(closed_at=datetime(2026, 3, 9, tzinfo=UTC)))
    assert not ready_to_close(_job(cancelled=True))
    closed = closing_event(_job())
    assert (closed.csat, closed.nps, closed.follow_ups[0].kind) == (4, 9, "monitoring")
    expired = closing_event(_job(survey_status="expired"))
    assert (expired.csat, expired.nps) == (None, None)
    assert expired.outcome.service_date == date(2026, 3, 3)


@pytest.mark.parametrize("event_type", sorted(NOTICES, key=lambda t: t.name), ids=lambda t: t.name)
def test_every_notification_template_is_a_file_and_renders_the_events_details(event_type):
    notice = NOTICES[event_type]
    assert message_exists(notice.template)
    data = example(event_type.routing_key())
    job = example("job.requested.v1")
    context = {
        "job": {
            "job_id": job.job_id,
            **{k: getattr(job, k).model_dump(mode="json") for k in ("customer", "contact", "site", "equipment")},
            "priority": job.priority.value,
            "fault_description": job.fault_description,
        },
        "event": data.model_dump(mode="json"),
        "survey_url": "https://x.test/surveys/T",
        "report_url": "https://x.test/report.pdf",
        "portal_survey_url": "https://x.test/portal/jobs/J/survey",
        "survey_expires_at": "2026-03-20T10:00:00+00:00",
    }
    about = job.job_id
    if event_type.subject_field != "job_id":  # about a machine, not a job: the template sees no job
        del context["job"]
        about = getattr(data, event_type.subject_field)
    for language, greeting in (("en", "Dear"), ("ms", "Tuan/Puan")):
        subject, body = render_message(notice.template, context, language, MALAYSIA)
        assert about in subject and "\n" not in subject
        assert about in body
        if notice.audience is Audience.CUSTOMER:
            assert body.startswith(f"{greeting} {job.contact.name},")


def test_report_links_lead_to_the_portal_whose_address_production_must_give():
    assert FeedbackSettings(environment="test", portal_url="").report_link("JOB-1") == (
        "http://127.0.0.1:8000/portal/jobs/JOB-1/report"  # the local console, for a developer
    )
    portal = FeedbackSettings(environment="test", portal_url="https://service.example.my/")
    assert portal.report_link("JOB-1") == "https://service.example.my/portal/jobs/JOB-1/report"
    strong = {
        "environment": "production",
        "oidc_issuer": "https://login.example.my/realms/compressor",
        "s3_secret_key": "s" * 40,
        "rabbitmq_url": "amqp://feedback:" + "p" * 24 + "@rabbitmq:5672/compressor",
        "jwt_signing_keys": "",
    }
    FeedbackSettings(**strong, portal_url="https://service.example.my").check_production()
    with pytest.raises(RuntimeError, match="PORTAL_URL must be the customer portal's https URL"):
        FeedbackSettings(**strong, portal_url="").check_production()
    with pytest.raises(RuntimeError) as refused:  # the kit's own refusals are still said, with the portal's
        FeedbackSettings(**{**strong, "rabbitmq_url": "amqp://guest:guest@rabbitmq/"}, portal_url="").check_production()
    assert "RABBITMQ_URL uses the guest account" in str(refused.value) and "PORTAL_URL" in str(refused.value)


def test_an_answer_names_every_refused_field_at_once():
    with pytest.raises(Refusal) as refused:
        parse_answer(None, 11, "x" * 20001)
    assert [issue.field for issue in refused.value.issues] == ["csat", "nps", "comments"]
    assert refused.value.field == "csat"


def test_times_are_written_in_malaysia_in_the_readers_language():
    moment = datetime(2026, 3, 2, 12, 15, tzinfo=UTC)
    with speaking("ms"):
        assert written_time(moment, MALAYSIA) == "2 Mac 2026, 8:15 PTG MYT"
        assert in_language("Motor current", "Arus motor") == "Arus motor"
        assert in_language("Motor current", None) == "Motor current"
    with speaking("en"):
        assert written_time(moment, MALAYSIA) == "2 Mar 2026, 8:15 pm MYT"
        assert in_language("Motor current", "Arus motor") == "Motor current"


def test_a_review_is_for_a_reported_job_not_reviewed_yet_by_its_engineer_or_a_manager():
    manager = StaffMember(user_id="u-manager-1", name="Tan Mei Ling", role=StaffRole.MANAGER)
    engineer = StaffMember(user_id="ENG-014", name="Lim Wei Jie", role=StaffRole.ENGINEER)
    other = StaffMember(user_id="ENG-999", name="Someone Else", role=StaffRole.ENGINEER)
    open_job = _job(reviewed_at=None, review=None, survey_status="open")
    assert review(open_job, engineer, "Valve replaced.", [], []).reviewer == engineer
    assert review(open_job, manager, "Valve replaced.", ["Check the cooler."], []).lessons == ["Check the cooler."]
    for job, who, kind in [
        (open_job, other, RefusalKind.FORBIDDEN),
        (_job(reviewed_at=None, cancelled=True), manager, RefusalKind.CONFLICT),
        (_job(reviewed_at=None, record=None), manager, RefusalKind.CONFLICT),
        (_job(), manager, RefusalKind.CONFLICT),  # reviewed already
    ]:
        with pytest.raises(Refusal) as refused:
            review(job, who, "Valve replaced.", [], [])
        assert refused.value.kind is kind
