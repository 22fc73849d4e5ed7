"""The local provider's sign-in page (infra/idp) in a real browser, on a desktop and a phone: the
page the console sends every person to, and the proof of the kit's browser fixtures
(compressor_kit.testing.browser)."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.async_api import Page, Route, expect

from compressor_kit.oidc import OidcClient, Pkce
from compressor_kit.settings import Settings
from compressor_kit.testing.browser import assert_accessible, assert_clean, assert_fits, screenshot, sign_in
from compressor_kit.testing.provider import CONSOLE, seed

SEED = seed()
CALLBACK = "http://127.0.0.1:8000/auth/callback"  # the console client's registered redirect URI
PASSWORD = SEED["local_password"]


async def open_sign_in(page: Page) -> str:
    """Start the console's code flow at the provider, as the console will; answer the callback in
    the browser itself (nothing listens on :8000 here). The state the callback must carry."""

    async def console(route: Route) -> None:
        body = "<!DOCTYPE html><html lang=en><title>Console</title><h1>Console</h1>"
        await route.fulfill(status=200, content_type="text/html", body=body)

    await page.route("http://127.0.0.1:8000/**", console)
    state = secrets.token_urlsafe(16)
    async with httpx.AsyncClient(timeout=10) as http:
        client = OidcClient(http, Settings(environment="test"), CONSOLE, SEED["local_client_secret"])
        url = await client.authorization_url(CALLBACK, state, secrets.token_urlsafe(16), Pkce.new(), "openid profile")
    await page.goto(url)
    return state


async def test_the_sign_in_page_reads_well_on_a_desktop(desktop_page: Page) -> None:
    await check_sign_in_page(desktop_page)


async def test_the_sign_in_page_reads_well_on_a_phone(phone_page: Page) -> None:
    await check_sign_in_page(phone_page)


async def check_sign_in_page(page: Page) -> None:
    """Heading, labelled fields, no sideways scrolling, no axe violation, no console error."""
    await open_sign_in(page)
    await expect(page.get_by_role("heading", name="Sign in to Compressor Service")).to_be_visible()
    # Each label names its input, so a screen reader (and get_by_label) finds the fields.
    await expect(page.get_by_label("Username")).to_have_attribute("id", "username")
    await expect(page.get_by_label("Password")).to_have_attribute("type", "password")
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await screenshot(page, "provider-sign-in")
    await assert_fits(page)
    await assert_accessible(page)
    assert_clean(page)


async def test_a_wrong_password_is_said_beside_the_field_and_keeps_the_username(phone_page: Page) -> None:
    page = phone_page
    await open_sign_in(page)
    await sign_in(page, "daniel", "not-the-password")
    error = page.get_by_role("alert")
    await expect(error).to_have_text("Wrong username or password.")
    await expect(page.get_by_label("Username")).to_have_value("daniel")
    await expect(page.get_by_label("Password")).to_have_value("")
    await expect(page.get_by_label("Password")).to_have_attribute("aria-describedby", "login-error")
    await screenshot(page, "provider-sign-in-wrong-password")
    await assert_fits(page)
    await assert_accessible(page)
    # The refused form comes back with status 401, which Chromium logs; nothing else may be logged.
    assert_clean(page, allow=("status of 401",))


async def test_the_right_password_reaches_the_console_with_a_code(desktop_page: Page) -> None:
    page = desktop_page
    state = await open_sign_in(page)
    await sign_in(page, "daniel", PASSWORD)
    await page.wait_for_url(f"{CALLBACK}?**")
    query = parse_qs(urlsplit(page.url).query)
    assert query["state"] == [state]
    assert query["code"][0]
    assert "error" not in query
    await expect(page.get_by_role("heading", name="Console")).to_be_visible()
    assert_clean(page)
