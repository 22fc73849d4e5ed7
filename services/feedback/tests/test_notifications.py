"""Notifications on the real servers: management and customer e-mails over a real SMTP server,
signed webhooks to a real HTTP receiver, retries, and nothing sent twice."""

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from compressor_kit.testing import eventually
from feedback_service.notifications.domain import verify

MALAYSIA = ZoneInfo("Asia/Kuala_Lumpur")
MONTHS = {
    "en": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(),
    "ms": "Jan Feb Mac Apr Mei Jun Jul Ogo Sep Okt Nov Dis".split(),
}
HALF_DAY = {"en": ("am", "pm"), "ms": ("PG", "PTG")}


def malaysian(moment: datetime, language: str) -> str:
    """A time as a customer in Malaysia reads it in their language: '2 Mac 2026, 8:15 PTG MYT'."""
    local = moment.astimezone(MALAYSIA)
    month = MONTHS[language][local.month - 1]
    half = HALF_DAY[language][local.hour >= 12]
    return f"{local.day} {month} {local.year}, {local.hour % 12 or 12}:{local:%M} {half} MYT"


def bearer(tokens, sub, *roles):
    return {"Authorization": f"Bearer {tokens.mint(sub, list(roles))}"}


async def delivered(test_db, job_id, count):
    async def check():
        docs = list(test_db.notifications.find({"job_id": job_id, "status": "delivered"}))
        return docs if len(docs) >= count else None

    return await eventually(check, timeout=30)


async def test_a_jobs_events_e_mail_management_and_the_customer_with_the_jobs_details(harness, smtp, story, test_db):
    sink, _ = smtp
    job = story()
    managers = harness.settings.management_recipients()
    await harness.publish(job.requested())
    await delivered(test_db, job.job_id, 2)  # job.requested first: it carries the contact
    for key in (
        "job.prediagnosed.v1",
        "job.engineer_dispatched.v1",
        "job.progress_reported.v1",
        "job.work_completed.v1",
        "job.inspection_passed.v1",
        "job.sla_at_risk.v1",
        "job.sla_breached.v1",
        "job.inspection_escalated.v1",
    ):
        await harness.publish(job.data(key))
    # 2 managers x (requested, at risk, breached, escalated) + 5 customer messages
    await delivered(test_db, job.job_id, 13)

    for manager in managers:
        subjects = sorted(sink.subject(m) for m in sink.to(manager))
        assert len(subjects) == 4, subjects
    [new_request] = [m for m in sink.to(managers[0]) if sink.subject(m).startswith("New high service request")]
    body = sink.body(new_request)
    assert job.job_id in sink.subject(new_request) and "Seri Murni Foods Sdn Bhd" in sink.subject(new_request)
    assert "Compressor trips on high discharge temperature" in body
    assert "Amir Hassan" in body and "+60123456789" in body
    [breach] = [m for m in sink.to(managers[1]) if "SLA BREACHED" in sink.subject(m)]
    assert job.data("job.sla_breached.v1").detail in sink.body(breach)
    [escalation] = [m for m in sink.to(managers[0]) if "failed inspection 3 times" in sink.subject(m)]
    assert "Discharge temperature" in sink.body(escalation)

    customer = sink.to(job.contact.email)
    assert len(customer) == 5
    by_subject = {sink.subject(m): sink.body(m) for m in customer}
    prediagnosed = job.data("job.prediagnosed.v1")
    [commitment] = [b for s, b in by_subject.items() if s.startswith("Our commitment")]
    assert "Dear Amir Hassan" in commitment
    assert f"an engineer on site by {malaysian(prediagnosed.commitment.arrive_by, 'en')}" in commitment
    dispatched = job.data("job.engineer_dispatched.v1")
    [eta] = [s for s in by_subject if "is on the way" in s]
    assert f"{dispatched.engineer.name} is on the way, arriving {malaysian(dispatched.eta, 'en')}" in eta
    progress = job.data("job.progress_reported.v1")
    [progress_body] = [b for s, b in by_subject.items() if s.startswith("Progress on your")]
    assert progress.message in progress_body
    assert any("passed inspection" in s for s in by_subject)
    assert any("Work finished" in s for s in by_subject)

    notified = await harness.tap.wait_for("customer.notified.v1", 5)
    assert {e.data.recipient for e in notified} == {job.contact.email}
    assert {e.data.about_event for e in notified} == {
        "job.prediagnosed.v1",
        "job.engineer_dispatched.v1",
        "job.progress_reported.v1",
        "job.work_completed.v1",
        "job.inspection_passed.v1",
    }
    assert all(e.subject == job.job_id and e.data.attempts == 1 for e in notified)


async def test_a_customer_preferring_webhooks_gets_signed_posts_the_receiver_can_verify_in_their_language(
    harness, story, test_db, tokens, webhook_receiver
):
    job = story(preferred="webhook", language="ms")
    admin = bearer(tokens, "admin-1", "admin")
    registered = await harness.client.put(
        "/customers/CUST-0107/webhook", json={"url": webhook_receiver.url}, headers=admin
    )
    assert registered.status_code == 200, registered.text
    secret = registered.json()["secret"]
    shown = await harness.client.get("/customers/CUST-0107/webhook", headers=admin)
    assert shown.json()["url"] == webhook_receiver.url and shown.json()["secret"] is None

    await harness.publish(job.requested())
    dispatched = await harness.publish(job.data("job.engineer_dispatched.v1"))
    await delivered(test_db, job.job_id, 3)

    [post] = webhook_receiver.requests
    headers = {k.lower(): v for k, v in post["headers"].items()}
    timestamp, signature, body = headers["x-compressor-timestamp"], headers["x-compressor-signature"], post["body"]
    # What any receiver does with its secret, independent of our code:
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    assert verify(secret, timestamp, body, signature, time.time())
    assert not verify("another-secret", timestamp, body, signature, time.time())
    assert not verify(secret, timestamp, body + b" ", signature, time.time())
    assert not verify(secret, timestamp, body, signature, time.time() + 3600)  # a replay an hour later

    payload = json.loads(body)
    # Machine fields as they always were; the human-readable ones in the contact's Malay.
    assert payload["about_event"] == "job.engineer_dispatched.v1" and payload["about_event_id"] == dispatched.id
    assert payload["job_id"] == job.job_id and payload["template"] == "customer-engineer-dispatched"
    assert payload["data"] == dispatched.data.model_dump(mode="json")
    assert payload["language"] == "ms"
    eta = malaysian(dispatched.data.eta, "ms")
    assert payload["subject"] == f"Lim Wei Jie dalam perjalanan, anggaran masa tiba {eta} (kerja {job.job_id})"
    assert payload["text"].startswith("Tuan/Puan Amir Hassan,")
    assert f"Anggaran masa tiba: {eta}" in payload["text"] and "Expected arrival" not in payload["text"]
    assert headers["x-compressor-notification-id"] == payload["notification_id"]
    [notified] = await harness.tap.wait_for("customer.notified.v1")
    # The event tells where only as scheme://host: the receiver's path may carry its secret.
    assert notified.data.channel == "webhook" and notified.data.recipient == "http://127.0.0.1"


async def test_each_customer_reads_their_e_mails_in_their_own_language_with_the_report_link_to_the_portal(
    harness, smtp, story, test_db
):
    sink, _ = smtp
    malay = story(email_address="aminah@serimurni.example", language="ms")
    english = story(email_address="kumar@penangplastics.example", language="en")
    progress = malay.data("job.progress_reported.v1")
    for job in (malay, english):
        await harness.publish(job.requested())
        await harness.publish(job.data("job.progress_reported.v1"))
        await harness.publish(job.data("job.report_published.v1"))
    # A progress message nobody wrote in Malay: the Malay reader gets the English one rather than nothing.
    untranslated = "Oil refilled; the 30-minute test run has started."
    await harness.publish(malay.data("job.progress_reported.v1", message=untranslated, message_ms=None))
    await delivered(test_db, malay.job_id, 5)  # 2 managers, 2 progress messages, the report
    await delivered(test_db, english.job_id, 4)
    report = malay.data("job.report_published.v1")

    def mails(job):
        return {sink.subject(m): m for m in sink.to(job.contact.email)}

    in_malay = mails(malay)
    assert {m["Content-Language"] for m in in_malay.values()} == {"ms"}
    [progress_subject] = {s for s in in_malay if s.startswith("Kemajuan")}
    assert progress_subject == (
        f"Kemajuan Atlas Copco GA 37 VSD+ anda: langkah 4 daripada 5 selesai (kerja {malay.job_id})"
    )
    bodies = [sink.body(m) for m in sink.to(malay.contact.email) if sink.subject(m) == progress_subject]
    [malay_progress] = [b for b in bodies if progress.message_ms in b]
    assert malay_progress.startswith("Tuan/Puan Amir Hassan,") and progress.message not in malay_progress
    assert f"Langkah selesai: nombor 4 ({malaysian(progress.step.completed_at, 'ms')})" in malay_progress
    [fallback] = [b for b in bodies if untranslated in b]
    assert "Langkah selesai: 4. Replace the thermostatic valve element" in fallback

    [malay_report] = [m for s, m in in_malay.items() if s.startswith("Laporan penyelenggaraan untuk kerja")]
    body = sink.body(malay_report)
    survey = test_db.surveys.find_one({"job_id": malay.job_id})
    assert "Tarikh servis: 3 Mac 2026" in body and "Masa kerja: 5.5 jam" in body
    assert f"https://portal.example.test/portal/jobs/{malay.job_id}/report" in body
    assert "X-Amz" not in body and report.report.object_key not in body  # no presigned link to expire
    assert f"Tinjauan ini dibuka sehingga {malaysian(survey['expires_at'].replace(tzinfo=UTC), 'ms')}." in body
    assert "https://service.example.test/surveys/" in body
    assert (
        f"atau, selepas log masuk, di portal pelanggan: https://portal.example.test/portal/jobs/{malay.job_id}/survey"
        in body
    )

    in_english = mails(english)
    assert {m["Content-Language"] for m in in_english.values()} == {"en"}
    [english_progress] = [sink.body(m) for s, m in in_english.items() if s.startswith("Progress on your")]
    assert english_progress.startswith("Dear Amir Hassan,") and progress.message in english_progress
    assert progress.message_ms not in english_progress
    [english_report] = [sink.body(m) for s, m in in_english.items() if s.startswith("Your maintenance report")]
    assert "Service date: 3 Mar 2026" in english_report
    assert f"https://portal.example.test/portal/jobs/{english.job_id}/report" in english_report
    # Management hears of both jobs in English.
    managers = [sink.subject(m) for m in sink.to(harness.settings.management_recipients()[0])]
    assert len(managers) == 2 and all(s.startswith("New high service request") for s in managers)


async def test_a_failing_smtp_server_is_retried_with_backoff_and_the_message_goes_out_once_it_recovers(
    harness, smtp, story, test_db
):
    sink, _ = smtp
    sink.refuse = True
    job = story()
    await harness.publish(job.requested())
    await harness.publish(job.data("job.prediagnosed.v1"))

    async def all_failed_once():
        docs = list(test_db.notifications.find({"job_id": job.job_id}))
        ok = len(docs) == 3 and all(d["attempts"] == 1 and d["status"] == "pending" for d in docs)
        return docs if ok else None

    docs = await eventually(all_failed_once, timeout=30)
    for doc in docs:
        assert "451" in doc["last_error"]
        assert doc["next_attempt_at"] == harness.clock.now() + timedelta(seconds=60)
    assert sink.messages == []

    sink.refuse = False
    harness.clock.advance(timedelta(seconds=61))
    docs = await delivered(test_db, job.job_id, 3)
    assert all(d["attempts"] == 2 for d in docs)
    assert len(sink.messages) == 3
    [notified] = await harness.tap.wait_for("customer.notified.v1")
    assert notified.data.attempts == 2


async def test_a_failing_webhook_is_retried_later(harness, story, test_db, tokens, webhook_receiver):
    webhook_receiver.status = 503
    job = story(preferred="webhook")
    admin = bearer(tokens, "admin-1", "admin")
    await harness.client.put("/customers/CUST-0107/webhook", json={"url": webhook_receiver.url}, headers=admin)
    await harness.publish(job.requested())
    await harness.publish(job.data("job.engineer_dispatched.v1"))

    async def failed_once():
        doc = test_db.notifications.find_one({"job_id": job.job_id, "channel": "webhook"})
        return doc if doc and doc["attempts"] == 1 and doc["status"] == "pending" else None

    doc = await eventually(failed_once, timeout=30)
    assert "503" in doc["last_error"]
    webhook_receiver.status = 200
    harness.clock.advance(timedelta(seconds=61))

    async def webhook_delivered():
        doc = test_db.notifications.find_one({"job_id": job.job_id, "channel": "webhook"})
        return doc if doc["status"] == "delivered" else None

    doc = await eventually(webhook_delivered, timeout=30)
    assert doc["attempts"] == 2
    assert len(webhook_receiver.requests) == 2  # the refused one and the accepted one


async def test_a_redelivered_event_sends_nothing_twice(harness, smtp, story, test_db):
    sink, _ = smtp
    job = story()
    requested = await harness.publish(job.requested())
    dispatched = await harness.publish(job.data("job.engineer_dispatched.v1"))
    await delivered(test_db, job.job_id, 3)
    # The same events again (as after a broker redelivery or a producer's relay repeating itself) ...
    await harness.republish(requested)
    await harness.republish(dispatched)
    # ... then a new event, whose delivery shows the duplicates were taken off the queue before it.
    await harness.publish(job.data("job.progress_reported.v1"))
    await delivered(test_db, job.job_id, 4)

    async def inbox_settled():
        return test_db.inbox.count_documents({"subject": job.job_id}) == 3

    await eventually(inbox_settled, timeout=30)
    assert test_db.notifications.count_documents({"job_id": job.job_id}) == 4
    assert len(sink.messages) == 4
    assert len(sink.to(job.contact.email)) == 2
    # customer.notified leaves through the outbox after each delivery: wait for both, then none more.
    assert len(await harness.tap.wait_for("customer.notified.v1", 2)) == 2


async def test_a_cancelled_job_tells_nobody_of_later_steps(harness, smtp, story, test_db):
    sink, _ = smtp
    job = story()
    await harness.publish(job.requested())
    await delivered(test_db, job.job_id, 2)
    await harness.publish(job.data("job.cancelled.v1"))

    async def cancelled():
        return test_db.jobs.find_one({"_id": job.job_id, "cancelled": True})

    await eventually(cancelled, timeout=30)
    await harness.publish(job.data("job.engineer_dispatched.v1"))

    async def handled():
        return test_db.inbox.count_documents({"subject": job.job_id}) == 3

    await eventually(handled, timeout=30)
    assert test_db.notifications.count_documents({"job_id": job.job_id}) == 2
    assert sink.to(job.contact.email) == []


async def test_webhook_registration_is_for_admins_and_checks_the_url(harness, tokens, test_db):
    manager = bearer(tokens, "m-1", "manager")
    admin = bearer(tokens, "admin-1", "admin")
    assert (
        await harness.client.put("/customers/C1/webhook", json={"url": "https://x.test/h"}, headers=manager)
    ).status_code == 403
    bad = await harness.client.put("/customers/C1/webhook", json={"url": "ftp://x.test/h"}, headers=admin)
    assert bad.status_code == 400 or bad.status_code == 422, bad.text
    assert "url" in bad.text
    assert test_db.webhooks.count_documents({}) == 0
    missing = await harness.client.get("/customers/C1/webhook", headers=admin)
    assert missing.status_code == 404


async def test_a_notification_that_keeps_failing_is_given_up_after_the_configured_attempts(
    harness_for, smtp, story, test_db
):
    sink, _ = smtp
    sink.refuse = True
    harness = await harness_for(delivery_max_attempts=2, management_emails="ops-manager@compressor.example")
    job = story()
    await harness.publish(job.requested())

    async def attempted(times):
        async def check():
            doc = test_db.notifications.find_one({"job_id": job.job_id})
            return doc if doc and doc["attempts"] == times and doc["status"] != "sending" else None

        return await eventually(check, timeout=30)

    first = await attempted(1)
    assert first["status"] == "pending"
    harness.clock.advance(timedelta(seconds=61))
    second = await attempted(2)
    assert second["status"] == "failed" and "451" in second["last_error"]
    assert sink.refused == 2 and sink.messages == []


async def test_events_that_overtake_job_requested_are_kept_and_sent_once_the_job_is_known(
    harness, smtp, story, test_db
):
    sink, _ = smtp
    job = story()
    await harness.publish(job.data("job.prediagnosed.v1"))
    await harness.publish(job.data("job.report_published.v1"))

    async def parked():
        return test_db.parked_events.count_documents({"job_id": job.job_id}) == 2

    await eventually(parked, timeout=30)
    assert test_db.notifications.count_documents({}) == 0
    await harness.publish(job.requested())
    await delivered(test_db, job.job_id, 4)  # 2 managers, the commitment, the report with its survey
    assert test_db.parked_events.count_documents({}) == 0
    subjects = sorted(sink.subject(m) for m in sink.to(job.contact.email))
    assert subjects[0].startswith("Our commitment") and "maintenance report" in subjects[1]
    assert test_db.surveys.count_documents({"job_id": job.job_id}) == 1
