"""The console in a real browser: the services its pages call and the console itself as processes (the
demo's `Stack`, on the test's vhost, databases and buckets), and people signing in at the real provider
with Playwright.

The provider sends a browser back only to the registered redirect URI, the seed's
http://127.0.0.1:8000/auth/callback. The test's console runs on a free port but is configured with that
public URL; the browser context answers every request for http://127.0.0.1:8000 with a redirect to the
same path on the console under test, as a reverse proxy in front of it would (cookies do not depend on
the port). A console that `make run` serves on :8000 is never reached.

    async with console_site(test_settings, ("intake",), tmp_path) as site:
        await site.sign_in(desktop_page, "aisyah", "/reception")
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Page, Route

from compressor_kit.settings import Settings
from compressor_kit.testing.browser import sign_in as provider_sign_in
from demo.stack import Stack

PUBLIC_URL = "http://127.0.0.1:8000"
PASSWORD = "local-development-password"


@dataclass
class ConsoleSite:
    stack: Stack
    url: str

    def service_url(self, service: str) -> str:
        return self.stack.url(service)

    async def route_public_url(self, page: Page) -> None:
        """Requests for the console's public URL go to the console under test."""

        async def to_console(route: Route) -> None:
            target = self.url + route.request.url.removeprefix(PUBLIC_URL)
            await route.fulfill(status=302, headers={"Location": target})

        await page.context.route(f"{PUBLIC_URL}/**", to_console)

    async def sign_in(self, page: Page, username: str, next_path: str = "/") -> None:
        """`username` opens `next_path`, signs in at the provider's form and lands back on the page."""
        await self.route_public_url(page)
        await page.goto(f"{self.url}{next_path}")
        await provider_sign_in(page, username, PASSWORD)
        await page.wait_for_url(f"{self.url}/**")

    async def sign_out(self, page: Page) -> None:
        """Sign out of the console and, confirming at the provider, of the provider too: the next person
        can sign in on the same page (the browser ends on the console's way back to sign-in)."""
        await page.get_by_role("button", name="Sign out").click()
        await page.get_by_role("button", name="Yes, sign me out").click()
        await page.locator("#username").wait_for()


@asynccontextmanager
async def console_site(
    settings: Settings,
    database_prefix: str,
    services: tuple[str, ...],
    log_dir: Path,
    env: dict[str, str] | None = None,
) -> AsyncIterator[ConsoleSite]:
    """`services` and then the console, each its own process, ready; stopped afterwards."""
    stack = Stack(
        rabbitmq_url=settings.rabbitmq_url.get_secret_value(),
        database_prefix=database_prefix,
        bucket_prefix=settings.s3_bucket_prefix,
        log_dir=log_dir,
        services=services,
        env={
            "REPORT_PUBLISH_INTERVAL_SECONDS": "0.5",
            "DELIVERY_INTERVAL_SECONDS": "0.5",
            "CONSOLE_LIVE_KEEPALIVE_SECONDS": "1",
            **(env or {}),
        },
    )
    await asyncio.to_thread(stack.start)
    try:
        service_urls = {f"{service.upper()}_URL": stack.url(service) for service in services}
        console = await asyncio.to_thread(stack.add, "console", {"CONSOLE_PUBLIC_URL": PUBLIC_URL, **service_urls})
        yield ConsoleSite(stack, console.url)
    finally:
        await asyncio.to_thread(stack.stop)
