"""The reader's language on the console's pages: the order that chooses it (pure), and the switch, the
cookie, the session's language and Accept-Language against a running console and the real provider."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from console_service.dispatching.domain import WEEKDAYS
from console_service.languages import (
    choose_language,
    remember_language,
    switch_url,
    without_language,
)
from console_service.texts import _
from console_service.times import local_date, local_datetime
from playwright.async_api import Page

from compressor_contracts.common import Language
from compressor_kit.i18n import speaking
from compressor_kit.testing.browser import assert_accessible, assert_clean, assert_fits, screenshot

from .console_story import console_settings, running_console, sign_in
from .site import console_site

# --- the order, pure ---------------------------------------------------------------------------------------


def test_nothing_chosen_is_english():
    assert choose_language() is Language.EN
    assert choose_language(accept_language="fr-FR, de;q=0.8") is Language.EN


def test_the_browser_s_languages_choose_when_nothing_else_does():
    assert choose_language(accept_language="ms-MY,ms;q=0.9,en;q=0.8") is Language.MS
    assert choose_language(accept_language="en-US,en;q=0.9") is Language.EN
    assert choose_language(accept_language="fr, en;q=0.5, ms;q=0.7") is Language.MS


def test_the_session_s_language_beats_the_browser():
    assert choose_language(session_language="ms", accept_language="en-US") is Language.MS


def test_the_cookie_beats_the_session_and_the_switch_beats_the_cookie():
    assert choose_language(cookie="en", session_language="ms", accept_language="ms") is Language.EN
    assert choose_language(asked="ms", cookie="en", session_language="en", accept_language="en") is Language.MS


def test_an_unknown_language_at_one_step_falls_through_to_the_next():
    assert choose_language(asked="fr", cookie="xx", session_language="ms") is Language.MS
    assert choose_language(asked="", cookie=None, session_language="de", accept_language="ms") is Language.MS


def test_a_session_remembers_only_a_language_we_speak():
    session: dict[str, object] = {}
    remember_language(session, "ms-MY")
    assert session == {"language": "ms"}
    remember_language(session, "fr")
    assert session == {"language": "ms"}
    remember_language(session, Language.EN)
    assert session == {"language": "en"}


def test_the_switch_keeps_the_page_and_its_query_without_lang():
    assert without_language("/dispatch/schedule", [("day", "2026-03-01"), ("lang", "ms")]) == (
        "/dispatch/schedule?day=2026-03-01"
    )
    assert without_language("/", [("lang", "en")]) == "/"
    assert without_language("//evil.example/x", []) == "/evil.example/x", "never another site"
    assert switch_url("/reception", Language.MS) == "/reception?lang=ms"
    assert switch_url("/?priority=high", "en") == "/?priority=high&lang=en"


def test_dates_are_in_the_reader_s_language_and_malaysian_time():
    moment = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # 07:30 on 2 March in Kuala Lumpur
    with speaking(Language.MS):
        assert local_date(moment) == "2 Mac 2026"
        assert "07:30" in local_datetime(moment) and "Mac" in local_datetime(moment)
    with speaking(Language.EN):
        assert local_date(moment) == "2 Mar 2026"
        assert local_datetime(moment.astimezone(ZoneInfo("Asia/Kuala_Lumpur"))).startswith("2 Mar 2026")


# --- against a running console -----------------------------------------------------------------------------


async def test_the_switch_the_cookie_the_session_and_the_browser_choose_the_pages_language(
    test_settings, identity_provider, test_db
):
    async with running_console(console_settings(test_settings)) as console:
        client = console.client
        await sign_in(client, identity_provider, "daniel")
        english = await client.get("/")
        assert '<html lang="en">' in english.text and "Job board" in english.text
        assert 'href="/?lang=ms"' in english.text and 'aria-label="Bahasa Melayu, BM"' in english.text

        by_browser = await client.get("/", headers={"Accept-Language": "ms-MY,ms;q=0.9"})
        assert '<html lang="ms">' in by_browser.text and "Papan kerja" in by_browser.text

        switched = await client.get("/", params={"priority": "high", "lang": "ms"})
        assert switched.status_code == 303 and switched.headers["location"] == "/?priority=high"
        cookie = switched.headers["set-cookie"].lower()
        assert cookie.startswith("lang=ms;") and "samesite=lax" in cookie and "max-age=" in cookie
        assert "secure" not in cookie, "the console's public URL here is http"
        malay = await client.get("/", headers={"Accept-Language": "en-US"})
        assert '<html lang="ms">' in malay.text and "Papan kerja" in malay.text and "Log keluar" in malay.text
        assert 'href="/?lang=en"' in malay.text

        client.cookies.delete("lang")
        test_db["sessions"].update_many({}, {"$set": {"language": "ms"}})
        by_session = await client.get("/", headers={"Accept-Language": "en-US"})
        assert '<html lang="ms">' in by_session.text
        await client.get("/?lang=en")
        assert '<html lang="en">' in (await client.get("/")).text, "the switch beats the session"

        unknown = await client.get("/?lang=fr")
        assert unknown.status_code == 303 and "set-cookie" not in unknown.headers


@pytest.mark.parametrize("url", ["https://console.example.my"])
def test_the_language_cookie_is_secure_when_the_console_is_served_over_https(url, test_settings):
    from console_service.languages import language_cookie

    settings = console_settings(test_settings, console_public_url=url)
    header = language_cookie(Language.MS, secure=settings.secure_cookies).to_header().lower()
    assert "secure" in header and "samesite=lax" in header


# --- in a browser ------------------------------------------------------------------------------------------


def _schedule_heading(language: Language, day: date) -> str:
    with speaking(language):
        return f"{_(WEEKDAYS[day.weekday()])} {local_date(day)}"


async def test_a_manager_switches_the_console_to_malay_and_back_and_it_stays_as_chosen_from_page_to_page(
    test_settings, identity_provider, database_prefix, desktop_page, tmp_path
):
    page = desktop_page
    async with console_site(test_settings, database_prefix, ("dispatch",), tmp_path) as site:
        await site.sign_in(page, "rahman", "/")
        # Nothing chose a language: the browser's (Playwright's en-US) gives English.
        await page.get_by_role("heading", name="Job board").wait_for()
        assert await page.locator("html").get_attribute("lang") == "en"
        english = page.get_by_role("link", name="English")
        assert await english.get_attribute("aria-current") == "true"

        await page.get_by_role("link", name="Bahasa Melayu").click()
        await page.get_by_role("heading", name="Papan kerja").wait_for()
        assert await page.locator("html").get_attribute("lang") == "ms"
        assert "lang=" not in page.url, "the switch leaves no trace in the address"
        menu = page.get_by_role("navigation", name="Konsol")
        for label in ("Papan kerja", "Terima panggilan", "Jadual", "Papan pemuka", "Pelan untuk diluluskan"):
            await menu.get_by_role("link", name=label, exact=True).wait_for()
        assert await page.get_by_role("button", name="Log keluar").is_visible()
        assert await page.get_by_role("link", name="Bahasa Melayu").get_attribute("aria-current") == "true"
        await _looked_at(page, "languages-board-ms")

        # Another page, reached from the Malay menu, is Malay too; its date in Malay words.
        await menu.get_by_role("link", name="Jadual", exact=True).click()
        heading = page.get_by_role("heading", level=1)
        await heading.filter(has_text="Jadual:").wait_for()
        shown = (await heading.inner_text()).removeprefix("Jadual:").strip()
        days = {datetime.now(zone).date() for zone in (ZoneInfo("Asia/Kuala_Lumpur"), ZoneInfo("UTC"))}
        assert shown in {_schedule_heading(Language.MS, day) for day in days}, shown
        assert shown not in {_schedule_heading(Language.EN, day) for day in days}
        assert await page.get_by_role("columnheader", name="Kapasiti").is_visible()
        await _looked_at(page, "languages-schedule-ms")

        await page.get_by_role("link", name="English").click()
        await page.get_by_role("heading", name=re.compile(r"^Schedule: ")).wait_for()
        assert await page.locator("html").get_attribute("lang") == "en"
        assert "/dispatch/schedule" in page.url and "lang=" not in page.url
        await page.get_by_role("navigation", name="Console").get_by_role("link", name="Job board").click()
        await page.get_by_role("heading", name="Job board").wait_for()
        assert await page.get_by_role("button", name="Sign out").is_visible()


async def _looked_at(page: Page, name: str) -> None:
    await assert_accessible(page)
    await assert_fits(page)
    assert_clean(page)
    await screenshot(page, name)
