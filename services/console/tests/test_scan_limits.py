"""A machine's label page (/m/{label_id}) is open to anyone: one address may ask only so often (counted in
MongoDB), cannot pose as another by a header, and every answer, the 429 page included, carries the
console's security headers."""

from __future__ import annotations

from console_service.app import SERVICE

from compressor_kit.http import create_app
from compressor_kit.testing.ports import free_port
from compressor_kit.testing.served import from_address, served

from .console_story import console_settings

LIMIT = 3
LABEL = "/m/q3ZbT0vC9xkP2mR7sLw4nA8d"


def assert_protected(response) -> None:
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_the_label_pages_are_limited_per_address_with_a_page_in_the_readers_language(
    test_settings, test_db, monkeypatch
):
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)  # uvicorn's default: trust only 127.0.0.1
    # No intake answers: the page says the service is unavailable (503), which is not a refusal.
    settings = console_settings(
        test_settings, scan_pages_per_address_per_minute=LIMIT, intake_url=f"http://127.0.0.1:{free_port()}"
    )
    async with (
        served(create_app(SERVICE, settings)) as url,
        from_address("127.0.0.2", url) as first,
        from_address("127.0.0.3", url) as second,
    ):
        for _ in range(LIMIT - 1):
            assert_protected(await first.get(LABEL))
        sent = await first.post(LABEL, data={"reporter_name": "", "reporter_phone": "", "description": ""})
        assert sent.status_code != 429  # the form counts against the same limit
        refused = await first.get(LABEL, headers={"Accept-Language": "ms"})
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
        assert "terlalu kerap" in refused.text
        assert_protected(refused)
        spoofed = await first.get(LABEL, headers={"X-Forwarded-For": "198.51.100.9"})
        assert spoofed.status_code == 429  # a header does not make another address
        assert (await first.post(LABEL, data={})).status_code == 429

        other = await second.get(LABEL)
        assert other.status_code == 503 and "unavailable" in other.text
        assert_protected(other)
    assert test_db["rate_limits"].count_documents({}) >= 2  # counted in MongoDB, per address
