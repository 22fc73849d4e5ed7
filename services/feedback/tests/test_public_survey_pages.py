"""The survey pages are open to anyone: every answer says what a browser may do with it, and one address
may ask only so often (counted in MongoDB), without being able to pose as another address."""

import base64
import hashlib
import re
from datetime import timedelta

from compressor_kit.http import create_app
from compressor_kit.testing.browser import assert_clean
from compressor_kit.testing.served import from_address, served
from feedback_service.app import SERVICE

from .test_survey_and_review import reported_job

LIMIT = 3


def assert_protected(response) -> None:
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy, policy
    assert "'unsafe-inline'" not in policy and "script-src" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"  # the token is in the address
    assert response.headers["cache-control"] == "no-store"


async def test_every_answer_of_the_survey_routes_carries_the_security_headers(harness, smtp, story, test_db):
    sink, _ = smtp
    _job, path, _ = await reported_job(harness, story, test_db, sink)

    form = await harness.client.get(path)
    assert form.status_code == 200
    # The page's one <style> block is the one the policy allows (no 'unsafe-inline').
    [style] = re.findall(r"<style>(.*?)</style>", form.text, re.DOTALL)
    allowed = "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"
    assert f"style-src {allowed}" in form.headers["content-security-policy"]
    answers = [
        form,
        await harness.client.post(path, data={"csat": "9", "nps": "3"}),  # the form again, 422
        await harness.client.post(f"{path}/answer", json={"csat": 9, "nps": 3}),  # problem+json, 422
        await harness.client.get("/surveys/no-such-token"),  # a page, 404
        await harness.client.post(path, data={"csat": "5", "nps": "9"}),  # thank you
    ]
    assert [a.status_code for a in answers] == [200, 422, 422, 404, 200]
    for answer in answers:
        assert_protected(answer)


async def test_one_address_is_limited_and_cannot_pose_as_another(feedback_settings_for, clock, monkeypatch):
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)  # uvicorn's default: trust only 127.0.0.1
    settings = feedback_settings_for(survey_requests_per_address_per_minute=LIMIT)
    page = "/surveys/a-token-nobody-has"
    async with (
        served(create_app(SERVICE, settings, clock=clock)) as url,
        from_address("127.0.0.2", url) as first,
        from_address("127.0.0.3", url) as second,
        from_address("127.0.0.1", url) as proxy,
    ):
        for _ in range(LIMIT):
            assert (await first.get(page)).status_code == 404
        refused = await first.get(page, headers={"Accept-Language": "ms"})
        assert refused.status_code == 429 and refused.headers["content-type"].startswith("text/html")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "Terlalu banyak permintaan" in refused.text  # the page, in the reader's language
        assert_protected(refused)
        by_api = await first.post(f"{page}/answer", json={"csat": 5, "nps": 9})
        assert by_api.status_code == 429 and by_api.headers["content-type"].startswith("application/problem+json")
        assert by_api.json()["status"] == 429 and by_api.headers["retry-after"]
        assert_protected(by_api)

        # A client that is not a trusted proxy cannot choose its address by a header.
        spoofed = await first.get(page, headers={"X-Forwarded-For": "198.51.100.9"})
        assert spoofed.status_code == 429

        # Another address is not held back.
        assert (await second.get(page)).status_code == 404

        # Behind the trusted proxy (127.0.0.1 by default), each forwarded client counts on its own.
        for _ in range(LIMIT):
            assert (await proxy.get(page, headers={"X-Forwarded-For": "203.0.113.7"})).status_code == 404
        assert (await proxy.get(page, headers={"X-Forwarded-For": "203.0.113.7"})).status_code == 429
        assert (await proxy.get(page, headers={"X-Forwarded-For": "203.0.113.8"})).status_code == 404

        clock.advance(timedelta(seconds=61))  # the next window
        assert (await first.get(page)).status_code == 404


async def test_a_browser_applies_the_survey_pages_style_under_the_policy(feedback_settings_for, clock, phone_page):
    """The policy allows the pages' own <style> block by its hash: Chromium styles the page, and reports
    no policy violation."""
    async with served(create_app(SERVICE, feedback_settings_for(), clock=clock)) as url:
        await phone_page.goto(f"{url}/surveys/a-token-nobody-has")
        await phone_page.get_by_role("heading", name="Survey not found").wait_for()
        background = await phone_page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(244, 246, 248)"  # #f4f6f8, from the <style> block
        assert_clean(phone_page, allow=("status of 404",))
