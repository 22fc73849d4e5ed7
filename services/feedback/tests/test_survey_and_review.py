"""Survey (phase 8) and review and close (phase 9) on the real servers: the report e-mail with its
survey link, answers through the HTML form and the API, refusals, low scores, expiry, and exactly
one job.closed."""

import asyncio
import re
import uuid
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from compressor_kit.testing import eventually

REVIEW = {
    "memo": "High-temperature trip: thermostatic valve replaced, oil cooler cleaned after a failed inspection.",
    "lessons": ["Check oil cooler fouling during diagnosis when ambient is above 30 °C."],
    "follow_ups": [
        {"kind": "proactive_visit", "description": "Inspect the cooler before the dry season.", "due_on": "2026-06-01"}
    ],
}


def bearer(tokens, sub, *roles, **claims):
    return {"Authorization": f"Bearer {tokens.mint(sub, list(roles), **claims)}"}


async def reported_job(harness, story, test_db, sink, **contact):
    """A job whose report is published and whose report e-mail (with the survey link) was delivered."""
    job = story(**contact)
    await harness.publish(job.requested())
    await harness.publish(job.data("job.report_published.v1"))

    async def survey_mail():
        mails = [m for m in sink.to(job.contact.email) if "/surveys/" in sink.body(m) and job.job_id in sink.body(m)]
        return mails[0] if mails else None

    mail = await eventually(survey_mail, timeout=30)

    async def survey_sent():
        return test_db.surveys.find_one({"job_id": job.job_id, "sent_at": {"$ne": None}})

    await eventually(survey_sent, timeout=30)
    body = sink.body(mail)
    url = re.search(r"https://service\.example\.test(/surveys/[A-Za-z0-9_-]+)", body)
    assert url, body
    return job, url.group(1), body


async def test_the_report_e_mail_links_the_report_and_a_survey_the_customer_answers_in_the_html_form(
    harness, smtp, story, test_db
):
    sink, _ = smtp
    job, path, body = await reported_job(harness, story, test_db, sink)
    report = job.data("job.report_published.v1")
    assert report.outcome.root_cause in body and report.outcome.repair_method in body
    # The report's page in the portal, which presigns a fresh download on each click: no link that expires.
    assert f"https://portal.example.test/portal/jobs/{job.job_id}/report" in body
    assert report.report.object_key not in body and "X-Amz-Signature" not in body
    [sent] = await harness.tap.wait_for("job.survey_sent.v1")
    assert sent.data.channel == "email" and sent.data.record_id == report.record_id
    token = path.rsplit("/", 1)[1]
    survey = test_db.surveys.find_one({"job_id": job.job_id})
    assert token not in str(survey) and len(survey["token_hashes"]) == 1  # only the hash is kept

    form = await harness.client.get(path)
    assert form.status_code == 200 and form.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in form.text and form.headers["content-language"] == "en"
    assert "How did we do?" in form.text and 'name="csat"' in form.text and 'name="nps"' in form.text
    assert "Lim Wei Jie" in form.text
    assert f'href="https://portal.example.test/portal/jobs/{job.job_id}/report"' in form.text

    answered = await harness.client.post(path, data={"csat": "5", "nps": "9", "comments": "Quick and clear."})
    assert answered.status_code == 200, answered.text
    assert "Thank you" in answered.text
    [received] = await harness.tap.wait_for("job.feedback_received.v1")
    assert received.data.model_dump(mode="json") | {"survey_id": None} == {
        "job_id": job.job_id,
        "survey_id": None,
        "csat": 5,
        "nps": 9,
        "comments": "Quick and clear.",
        "answered_via": "form",
        "low_score": False,
    }
    assert received.correlationid == test_db.jobs.find_one({"_id": job.job_id})["correlation_id"]

    again = await harness.client.post(path, data={"csat": "1", "nps": "0"})
    assert again.status_code == 409 and "already been answered" in again.text
    by_api = await harness.client.post(f"{path}/answer", json={"csat": 1, "nps": 0})
    assert by_api.status_code == 409
    assert by_api.headers["content-type"].startswith("application/problem+json")
    assert test_db.surveys.find_one({"job_id": job.job_id})["answer"]["csat"] == 5
    closed_form = await harness.client.get(path)
    assert closed_form.status_code == 409


async def test_the_survey_answered_through_the_api_refuses_out_of_range_scores_and_a_second_answer(
    harness, smtp, story, test_db, tokens
):
    sink, _ = smtp
    job, _, _ = await reported_job(harness, story, test_db, sink)
    # Staff hand the customer a fresh link (e.g. on the phone); the e-mailed one keeps working.
    issued = await harness.client.post(
        f"/jobs/{job.job_id}/survey/links", headers=bearer(tokens, "u-reception-3", "reception")
    )
    assert issued.status_code == 201, issued.text
    link = issued.json()
    assert link["survey_url"] == f"https://service.example.test/surveys/{link['token']}"
    answer = f"/surveys/{link['token']}/answer"
    before = test_db.surveys.find_one({"job_id": job.job_id})

    for body, field in [
        ({"csat": 6, "nps": 9}, "csat"),
        ({"csat": 0, "nps": 9}, "csat"),
        ({"csat": 4, "nps": 11}, "nps"),
        ({"csat": 4, "nps": -1}, "nps"),
        ({"csat": "four", "nps": 9}, "csat"),
        ({"nps": 9}, "csat"),
    ]:
        refused = await harness.client.post(answer, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["errors"][0]["field"] == field
    form_refused = await harness.client.post(f"/surveys/{link['token']}", data={"csat": "9", "nps": "3"})
    assert form_refused.status_code == 422
    assert (
        '<p class="error" id="csat-error">Choose a score from 1 (very dissatisfied) to 5 (very satisfied).</p>'
        in form_refused.text
    )
    assert 'value="3" checked' in form_refused.text and "nps-error" not in form_refused.text
    assert test_db.surveys.find_one({"job_id": job.job_id}) == before  # nothing written
    assert await harness.tap.of("job.feedback_received.v1") == []  # nothing published

    unknown = await harness.client.post("/surveys/not-a-real-token/answer", json={"csat": 4, "nps": 8})
    assert unknown.status_code == 404

    accepted = await harness.client.post(answer, json={"csat": 4, "nps": 8, "comments": "Good work."})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["low_score"] is False
    [received] = await harness.tap.wait_for("job.feedback_received.v1")
    assert received.data.answered_via == "api" and received.data.csat == 4
    second = await harness.client.post(answer, json={"csat": 5, "nps": 10})
    assert second.status_code == 409 and "already been answered" in second.json()["detail"]
    view = await harness.client.get(f"/jobs/{job.job_id}/survey", headers=bearer(tokens, "m", "manager"))
    assert view.json()["status"] == "answered" and view.json()["answer"]["nps"] == 8
    assert (
        await harness.client.post(f"/jobs/{job.job_id}/survey/links", headers=bearer(tokens, "r", "reception"))
    ).status_code == 409


async def test_a_low_score_alerts_management_and_marks_the_review_urgent(harness, smtp, story, test_db, tokens):
    sink, _ = smtp
    job, path, _ = await reported_job(harness, story, test_db, sink)
    answered = await harness.client.post(
        f"{path}/answer", json={"csat": 2, "nps": 3, "comments": "Second visit needed, line down a day."}
    )
    assert answered.status_code == 201 and answered.json()["low_score"] is True
    [received] = await harness.tap.wait_for("job.feedback_received.v1")
    assert received.data.low_score is True

    async def alerts():
        found = [m for m in sink.messages if sink.subject(m).startswith("Low satisfaction")]
        return found if len(found) == 2 else None

    for alert in await eventually(alerts, timeout=30):
        assert job.job_id in sink.subject(alert) and "CSAT 2/5, NPS 3/10" in sink.subject(alert)
        assert "Second visit needed, line down a day." in sink.body(alert)
        assert "URGENT" in sink.body(alert)
    assert {str(m["To"]) for m in await alerts()} == set(harness.settings.management_recipients())

    manager = bearer(tokens, "u-manager-1", "manager", name="Tan Mei Ling")
    queue = await harness.client.get("/reviews/pending?urgent=true", headers=manager)
    assert queue.status_code == 200, queue.text
    assert [item["job_id"] for item in queue.json()["items"]] == [job.job_id]
    reviewed = await harness.client.post(f"/jobs/{job.job_id}/review", json=REVIEW, headers=manager)
    assert reviewed.status_code == 201, reviewed.text
    [event] = await harness.tap.wait_for("job.reviewed.v1")
    assert event.data.urgent is True
    assert event.data.reviewer.model_dump(mode="json") == {
        "user_id": "u-manager-1",
        "name": "Tan Mei Ling",
        "role": "manager",
    }


async def test_review_then_answer_closes_the_job_exactly_once(harness, smtp, story, test_db, tokens):
    sink, _ = smtp
    job, path, _ = await reported_job(harness, story, test_db, sink)
    engineer = bearer(tokens, "ENG-014", "engineer", name="Lim Wei Jie")
    reviewed = await harness.client.post(f"/jobs/{job.job_id}/review", json=REVIEW, headers=engineer)
    assert reviewed.status_code == 201, reviewed.text
    assert reviewed.json()["closed"] is False  # the survey is still open
    [event] = await harness.tap.wait_for("job.reviewed.v1")
    assert event.data.memo == REVIEW["memo"] and event.data.follow_ups[0].kind == "proactive_visit"
    assert event.data.urgent is False
    again = await harness.client.post(f"/jobs/{job.job_id}/review", json=REVIEW, headers=engineer)
    assert again.status_code == 409

    assert (await harness.client.post(f"{path}/answer", json={"csat": 5, "nps": 10})).status_code == 201
    [closed] = await harness.tap.wait_for("job.closed.v1")
    report = job.data("job.report_published.v1")
    assert closed.subject == job.job_id
    assert closed.data.survey_status == "answered" and (closed.data.csat, closed.data.nps) == (5, 10)
    assert closed.data.record_id == report.record_id
    assert closed.data.outcome == report.outcome
    assert closed.data.report == report.report
    assert [f.model_dump(mode="json") for f in closed.data.follow_ups] == REVIEW["follow_ups"]

    # Time passes beyond the survey's expiry: the expiry job finds nothing to do; still one job.closed.
    harness.clock.advance(timedelta(hours=25))
    await harness.publish(job.data("job.progress_reported.v1"))  # a marker event after the expiry rounds

    async def marker_handled():
        return test_db.notifications.count_documents({"about_event": "job.progress_reported.v1"}) == 1

    await eventually(marker_handled, timeout=30)
    assert len(await harness.tap.of("job.closed.v1")) == 1
    view = await harness.client.get(f"/jobs/{job.job_id}/feedback", headers=engineer)
    assert view.json()["closed_at"] is not None and view.json()["survey_status"] == "answered"


async def test_an_expired_survey_is_refused_and_the_reviewed_job_closes_without_scores(
    harness, smtp, story, test_db, tokens
):
    sink, _ = smtp
    job, path, _ = await reported_job(harness, story, test_db, sink)
    harness.clock.advance(timedelta(hours=24, seconds=1))

    form = await harness.client.get(path)
    assert form.status_code == 410 and "expired" in form.text
    refused = await harness.client.post(f"{path}/answer", json={"csat": 5, "nps": 10})
    assert refused.status_code == 410 and "expired" in refused.json()["detail"]

    async def expired():
        return test_db.surveys.find_one({"job_id": job.job_id, "status": "expired"})

    await eventually(expired, timeout=30)
    assert await harness.tap.of("job.closed.v1") == []  # not reviewed yet

    manager = bearer(tokens, "u-manager-1", "manager")
    reviewed = await harness.client.post(f"/jobs/{job.job_id}/review", json=REVIEW, headers=manager)
    assert reviewed.status_code == 201 and reviewed.json()["closed"] is True
    [closed] = await harness.tap.wait_for("job.closed.v1")
    assert closed.data.survey_status == "expired"
    assert closed.data.csat is None and closed.data.nps is None


async def test_an_answer_and_a_review_at_the_same_moment_close_the_job_once(harness, smtp, story, test_db, tokens):
    sink, _ = smtp
    job, path, _ = await reported_job(harness, story, test_db, sink)
    manager = bearer(tokens, "u-manager-1", "manager")
    answer, review = await asyncio.gather(
        harness.client.post(f"{path}/answer", json={"csat": 4, "nps": 9}),
        harness.client.post(f"/jobs/{job.job_id}/review", json=REVIEW, headers=manager),
    )
    assert answer.status_code == 201 and review.status_code == 201
    await harness.tap.wait_for("job.closed.v1")
    await harness.tap.wait_for("job.reviewed.v1")
    await harness.tap.wait_for("job.feedback_received.v1")
    assert len(await harness.tap.of("job.closed.v1")) == 1


async def test_a_review_is_refused_for_an_unknown_job_before_the_report_for_another_engineer_or_without_a_memo(
    harness, smtp, story, test_db, tokens
):
    sink, _ = smtp
    manager = bearer(tokens, "u-manager-1", "manager")
    unknown = await harness.client.post("/jobs/JOB-NOPE/review", json=REVIEW, headers=manager)
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "job_id"

    early = story()
    await harness.publish(early.requested())

    async def known():
        return test_db.jobs.find_one({"_id": early.job_id, "requested": True})

    await eventually(known, timeout=30)
    too_early = await harness.client.post(f"/jobs/{early.job_id}/review", json=REVIEW, headers=manager)
    assert too_early.status_code == 409 and "report" in too_early.json()["detail"]

    job, _, _ = await reported_job(harness, story, test_db, sink)
    before = test_db.jobs.find_one({"_id": job.job_id})
    other = bearer(tokens, "ENG-999", "engineer")
    assert (await harness.client.post(f"/jobs/{job.job_id}/review", json=REVIEW, headers=other)).status_code == 403
    reception = bearer(tokens, "r", "reception")
    assert (await harness.client.post(f"/jobs/{job.job_id}/review", json=REVIEW, headers=reception)).status_code == 403
    no_memo = await harness.client.post(f"/jobs/{job.job_id}/review", json={"lessons": []}, headers=manager)
    assert no_memo.status_code == 400 and "memo" in no_memo.text
    assert test_db.jobs.find_one({"_id": job.job_id}) == before
    assert await harness.tap.of("job.reviewed.v1") == []


async def test_the_survey_page_speaks_the_contacts_malay_switches_language_and_keeps_what_was_typed(
    harness, smtp, story, test_db
):
    sink, _ = smtp
    job, path, body = await reported_job(harness, story, test_db, sink, language="ms")
    assert "Bagaimana perkhidmatan kami?" in body  # the e-mail that carried the link, in Malay too
    expires = test_db.surveys.find_one({"job_id": job.job_id})["expires_at"].replace(tzinfo=UTC)
    local = expires.astimezone(ZoneInfo("Asia/Kuala_Lumpur"))
    malay_month = "Jan Feb Mac Apr Mei Jun Jul Ogo Sep Okt Nov Dis".split()[local.month - 1]

    form = await harness.client.get(path)
    assert form.status_code == 200, form.text
    assert '<html lang="ms">' in form.text and form.headers["content-language"] == "ms"
    assert "<h1>Bagaimana perkhidmatan kami?</h1>" in form.text
    assert "Sejauh manakah anda berpuas hati dengan perkhidmatan kami?" in form.text
    assert f"Anda boleh menjawab sehingga {local.day} {malay_month} {local.year}," in form.text
    assert ">Hantar</button>" in form.text and "How did we do?" not in form.text
    assert f'href="{path}?lang=en"' in form.text and f'href="{path}?lang=ms"' in form.text

    english = await harness.client.get(f"{path}?lang=en")  # the page's switch
    assert '<html lang="en">' in english.text and "<h1>How did we do?</h1>" in english.text
    assert ">Send</button>" in english.text and "Bagaimana" not in english.text

    # Refused in the chosen language, beside the field, with what was typed kept.
    typed = {"nps": "7", "comments": "Jurutera tiba awal & kemas."}
    refused = await harness.client.post(f"{path}?lang=ms", data=typed)
    assert refused.status_code == 422 and '<html lang="ms">' in refused.text
    assert (
        '<p class="error" id="csat-error">'
        "Pilih skor dari 1 (sangat tidak berpuas hati) hingga 5 (sangat berpuas hati).</p>" in refused.text
    )
    assert 'name="nps" value="7" checked' in refused.text
    assert ">Jurutera tiba awal &amp; kemas.</textarea>" in refused.text
    refused_in_english = await harness.client.post(f"{path}?lang=en", data=typed)
    assert "Choose a score from 1 (very dissatisfied) to 5 (very satisfied)." in refused_in_english.text
    assert test_db.surveys.find_one({"job_id": job.job_id})["status"] == "open"  # nothing written

    answered = await harness.client.post(f"{path}?lang=ms", data={**typed, "csat": "5"})
    assert answered.status_code == 200 and "<h1>Terima kasih</h1>" in answered.text
    [received] = await harness.tap.wait_for("job.feedback_received.v1")
    assert (received.data.csat, received.data.nps, received.data.answered_via) == (5, 7, "form")
    again = await harness.client.get(path)
    assert again.status_code == 409 and "Tinjauan ini sudah dijawab." in again.text


async def test_the_customer_answers_their_own_survey_in_the_portal_and_no_other_customers(
    harness, smtp, story, test_db, identity_provider
):
    sink, _ = smtp
    own_id, other_id = (f"CUST-T{uuid.uuid4().hex[:8].upper()}" for _ in range(2))
    job, _, _ = await reported_job(harness, story, test_db, sink, customer_id=own_id, language="ms")
    later, _, _ = await reported_job(harness, story, test_db, sink, customer_id=own_id)
    # Each customer signs in at the provider (code flow): the portal calls with their own access token.
    tokens = {}
    for subject in (own_id, other_id):
        username = await identity_provider.register(subject, ["customer"], name=f"Customer {subject}")
        tokens[subject] = (await identity_provider.sign_in(username)).access_token
    own = {"Authorization": f"Bearer {tokens[own_id]}"}
    other = {"Authorization": f"Bearer {tokens[other_id]}"}

    shown = await harness.client.get(f"/jobs/{job.job_id}/survey", headers=own)
    assert shown.status_code == 200, shown.text
    assert shown.json()["status"] == "open" and shown.json()["answer"] is None
    assert "token" not in shown.text

    # Another customer's job is not theirs to see or answer: 404, as if it had none, and nothing written.
    before = test_db.surveys.find_one({"job_id": job.job_id})
    hidden = await harness.client.get(f"/jobs/{job.job_id}/survey", headers=other)
    assert hidden.status_code == 404 and hidden.json()["errors"][0]["field"] == "job_id"
    foreign = await harness.client.post(f"/jobs/{job.job_id}/survey/answer", json={"csat": 1, "nps": 0}, headers=other)
    assert foreign.status_code == 404, foreign.text
    missing = await harness.client.post("/jobs/JOB-NOPE/survey/answer", json={"csat": 5, "nps": 9}, headers=own)
    assert missing.status_code == 404

    bad = await harness.client.post(f"/jobs/{job.job_id}/survey/answer", json={"csat": 4, "nps": 11}, headers=own)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in bad.json()["errors"]] == ["nps"]
    both = await harness.client.post(f"/jobs/{job.job_id}/survey/answer", json={"comments": "x"}, headers=own)
    assert [e["field"] for e in both.json()["errors"]] == ["csat", "nps"]
    assert test_db.surveys.find_one({"job_id": job.job_id}) == before
    assert await harness.tap.of("job.feedback_received.v1") == []

    answer = {"csat": 4, "nps": 9, "comments": "Kemas kini yang jelas."}
    answered = await harness.client.post(f"/jobs/{job.job_id}/survey/answer", json=answer, headers=own)
    assert answered.status_code == 201, answered.text
    assert answered.json()["job_id"] == job.job_id and answered.json()["low_score"] is False
    [received] = await harness.tap.wait_for("job.feedback_received.v1")
    assert received.subject == job.job_id and received.data.answered_via == "portal"
    assert (received.data.csat, received.data.nps, received.data.comments) == (4, 9, "Kemas kini yang jelas.")
    again = await harness.client.post(f"/jobs/{job.job_id}/survey/answer", json=answer, headers=own)
    assert again.status_code == 409
    view = await harness.client.get(f"/jobs/{job.job_id}/survey", headers=own)
    assert view.json()["status"] == "answered" and view.json()["answer"]["answered_via"] == "portal"

    harness.clock.advance(timedelta(hours=24, seconds=1))
    expired = await harness.client.post(f"/jobs/{later.job_id}/survey/answer", json=answer, headers=own)
    assert expired.status_code == 410 and "expired" in expired.json()["detail"]
    assert len(await harness.tap.of("job.feedback_received.v1")) == 1
