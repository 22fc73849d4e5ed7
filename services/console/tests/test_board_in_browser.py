"""The board in a real browser: a dispatcher signs in at the provider and lands on it; an engineer lands
on their own jobs instead."""

from __future__ import annotations

import asyncio

import httpx

from compressor_kit.testing.browser import assert_accessible, assert_clean, screenshot

from .console_story import sign_in
from .site import console_site


async def test_a_dispatcher_signs_in_and_sees_the_board_and_an_engineer_their_jobs(
    test_settings, identity_provider, database_prefix, desktop_page, phone_page, tmp_path
):
    async with console_site(test_settings, database_prefix, ("reporting",), tmp_path) as site:
        await site.sign_in(desktop_page, "daniel")
        assert desktop_page.url == f"{site.url}/"
        await desktop_page.get_by_role("heading", name="Job board").wait_for()
        assert await desktop_page.get_by_text("Daniel Wong").is_visible()
        await assert_accessible(desktop_page)
        assert_clean(desktop_page)
        await screenshot(desktop_page, "console-board")

        await site.sign_out(desktop_page)
        await site.sign_in(desktop_page, "meiling")
        assert await desktop_page.get_by_text("Mei Ling Chong").is_visible()

        await site.sign_in(phone_page, "lim")
        assert phone_page.url.startswith(f"{site.url}/field"), phone_page.url


async def test_a_console_stopping_ends_its_open_live_pages_instead_of_waiting_out_the_grace_period(
    test_settings, identity_provider, database_prefix, tmp_path
):
    async with console_site(test_settings, database_prefix, (), tmp_path) as site:
        async with httpx.AsyncClient(base_url=site.url, timeout=10) as browser:
            await sign_in(browser, identity_provider, "daniel")
            async with browser.stream("GET", "/live") as stream:
                lines = stream.aiter_lines()
                assert await anext(lines) == "event: ready"
                await asyncio.to_thread(site.stack.stop)
                async for _ in lines:  # the stream ends (an error, were it cut off, fails the test)
                    pass
        log = site.stack.process("console").log.read_text()
        assert "Shutting down" in log and "timeout graceful shutdown exceeded" not in log, log[-2000:]
