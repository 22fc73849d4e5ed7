"""Pages in a real browser: Debian's Chromium (/usr/bin/chromium, `infra/chromium.sh` installs it)
driven by Playwright from PyPI. Never `playwright install`: its browser download fails on these
machines, and the project does not need it.

Fixtures (registered by the kit's pytest plugin; `make test-fast` skips tests that use them):
  desktop_page   a fresh context and page, 1280x800
  phone_page     a fresh context and page, 390x844, mobile, touch, device scale 3
  chromium       the worker's one Chromium (session scope), for a test that needs its own contexts
Helpers, each taking the page:
  assert_clean(page)        no console errors and no uncaught page errors so far (allow=: expected ones)
  assert_accessible(page)   axe-core finds no serious or critical violation (a readable list if it does)
  assert_fits(page)         no sideways scrolling (document width <= the device's screen width)
  screenshot(page, name)    var/screenshots/<name>-<desktop|phone>.png, the full page; its path
  sign_in(page, username, password)  fills the local provider's login form and submits it
  page_log(page)            what the page recorded: console errors, page errors, failed requests
  person_page(browser, kind)  `async with`: one more person's page, for a test where several people work
A test that fails leaves a screenshot of each of its pages as var/screenshots/failed-<test>-<kind>.png.

Why the async API on a session-scoped event loop. Starting Playwright's driver and Chromium costs
about 0.8 s (measured here: driver 0.5 s, launch 0.3-0.4 s), a new context and page 0.3 s. So
Chromium is launched once per xdist worker and every test gets only a new context. Playwright's
objects belong to the event loop that created them, and pytest-asyncio gives each test its own loop
by default; so the browser lives on pytest-asyncio's session loop, and the plugin marks every test
that uses these fixtures `asyncio(loop_scope="session")` (compressor_kit.testing's
pytest_collection_modifyitems): such a test is written as a plain `async def`. Its other async
fixtures should be session-loop ones too (`@pytest_asyncio.fixture(loop_scope="session")`), or
synchronous. The sync API was the other choice: it refuses to run while an asyncio loop runs in the
thread, so it rules out async tests (and the kit's OidcClient, httpx.AsyncClient and the services'
own async helpers) beside it, or needs every call sent to a thread of its own.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from weakref import WeakKeyDictionary

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Error, Page, Request, async_playwright

ROOT = Path(__file__).resolve().parents[5]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_JS = Path(__file__).resolve().parent / "axe/node_modules/axe-core/axe.min.js"
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR", ROOT / "var/screenshots"))
# Waits inside a test fail after this long (Playwright's default is 30 s): pages here are local.
DEFAULT_TIMEOUT_MS = 10_000

BROWSER_FIXTURES = frozenset({"chromium", "desktop_page", "phone_page"})

Kind = Literal["desktop", "phone"]
DEVICES: dict[Kind, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 3,
    },
}


@dataclass
class PageLog:
    """What one page recorded since it opened."""

    kind: Kind
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)


_logs: WeakKeyDictionary[Page, PageLog] = WeakKeyDictionary()


def page_log(page: Page) -> PageLog:
    try:
        return _logs[page]
    except KeyError:
        raise AssertionError("this page was not opened by the desktop_page or phone_page fixture") from None


def _record(page: Page, kind: Kind) -> PageLog:
    log = PageLog(kind)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            log.console_errors.append(f"{message.text} ({where})" if where else message.text)

    def on_page_error(error: Error) -> None:
        log.page_errors.append(error.message)

    def on_request_failed(request: Request) -> None:
        log.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.on("requestfailed", on_request_failed)
    _logs[page] = log
    return log


def assert_clean(page: Page, allow: tuple[str, ...] = ()) -> None:
    """Fail on any console error or uncaught script error the page has had so far (failed requests
    are listed alongside, as they usually explain the errors). Chromium logs every response of status
    400 or more as a console error, the page's own included ("Failed to load resource: the server
    responded with a status of 422"): a page that answers a refused form with such a status passes
    `allow=("status of 422",)`; console errors containing one of `allow` are not counted."""
    log = page_log(page)
    errors = [e for e in log.console_errors if not any(text in e for text in allow)]
    problems = [f"console error: {e}" for e in errors] + [f"page error: {e}" for e in log.page_errors]
    if problems:
        problems += [f"failed request: {r}" for r in log.failed_requests]
        raise AssertionError(f"{page.url} ({log.kind}):\n  " + "\n  ".join(problems))


async def assert_fits(page: Page) -> None:
    """The page does not scroll sideways: its document is no wider than the device's screen. Measured
    against the viewport the context was given, not `window.innerWidth`: a mobile Chromium zooms out
    to show content wider than the screen, and innerWidth grows with it (measured: 608 for a 600 px
    box on the 390 px phone), so the brief's `scrollWidth <= innerWidth` would always pass there. A
    page without `<meta name="viewport" content="width=device-width">` is laid out 980 px wide on a
    phone and fails here, as it should."""
    viewport = page.viewport_size
    assert viewport is not None
    width: int = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], (
        f"{page.url} ({page_log(page).kind}) scrolls sideways: content {width} px wide, screen {viewport['width']} px"
    )


async def assert_accessible(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> None:
    """axe-core (npm, pinned in testing/axe/package-lock.json) finds no violation of these impacts
    on the page as it is now. axe is evaluated through the DevTools protocol, so a strict
    Content-Security-Policy on the page (no inline scripts) does not stop it."""
    if not AXE_JS.exists():
        raise AssertionError(f"{AXE_JS} is missing: run `bash infra/chromium.sh` (`make test` does)")
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE_JS.read_text())
    result: dict[str, Any] = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    found = [v for v in result["violations"] if v.get("impact") in impacts]
    if found:
        lines = []
        for violation in found:
            lines.append(f"{violation['impact']}: {violation['id']}: {violation['help']} ({violation['helpUrl']})")
            for node in violation["nodes"][:5]:
                target = " ".join(str(t) for t in node["target"])
                summary = node.get("failureSummary", "").replace("\n", " ")
                lines.append(f"    {target}: {summary}")
        raise AssertionError(f"{page.url} ({page_log(page).kind}): axe found\n  " + "\n  ".join(lines))


async def screenshot(page: Page, name: str) -> Path:
    """The whole page as a PNG at var/screenshots/<name>-<desktop|phone>.png (read it before calling
    a page done)."""
    path = SCREENSHOTS / f"{name}-{page_log(page).kind}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    # In CSS pixels: a phone page (device scale 3) at its device pixels is 9 times the pixels and took 3 s
    # per tall page here, against 0.4 s; 390 px wide is what the person's layout is, and reads well.
    await page.screenshot(path=path, full_page=True, scale="css")
    return path


async def sign_in(page: Page, username: str, password: str) -> None:
    """On the local provider's login page (infra/idp): fill in the form and submit it, as a person
    would; waits for the page that follows to load."""
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(password)
    await page.locator("form button[type=submit]").click()
    await page.wait_for_load_state("load")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """This worker's Chromium, launched once."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `bash infra/chromium.sh` (`make test` does)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


# Set by the plugin's pytest_runtest_makereport when a test's call failed (compressor_kit.testing).
CALL_FAILED = pytest.StashKey[bool]()


@asynccontextmanager
async def person_page(browser: Browser, kind: Kind) -> AsyncIterator[Page]:
    """One more person's page (a fresh context: their own cookies), recording like the fixtures' pages;
    for a test in which several people work at once."""
    context: BrowserContext = await browser.new_context(**DEVICES[kind])
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        page = await context.new_page()
        _record(page, kind)
        yield page
    finally:
        await context.close()


async def _page(browser: Browser, kind: Kind, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    async with person_page(browser, kind) as page:
        yield page
        if request.node.stash.get(CALL_FAILED, False) and not page.is_closed():
            # What the page showed when the test failed: var/screenshots/failed-<test>-<kind>.png.
            name = "failed-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in request.node.name)
            try:
                await screenshot(page, name)
            except Error:
                pass  # the page may be gone with the failure itself; the test's own error says why


@pytest_asyncio.fixture(loop_scope="session")
async def desktop_page(chromium: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A page 1280x800 in a fresh context (no cookies), recording console errors and failed requests;
    when the test fails, a screenshot of it goes to var/screenshots/failed-<test>-desktop.png."""
    async for page in _page(chromium, "desktop", request):
        yield page


@pytest_asyncio.fixture(loop_scope="session")
async def phone_page(chromium: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A phone's page, 390x844 at device scale 3, mobile and touch, in a fresh context; when the test
    fails, a screenshot of it goes to var/screenshots/failed-<test>-phone.png."""
    async for page in _page(chromium, "phone", request):
        yield page


__all__ = [
    "BROWSER_FIXTURES",
    "CALL_FAILED",
    "PageLog",
    "assert_accessible",
    "assert_clean",
    "assert_fits",
    "chromium",
    "desktop_page",
    "page_log",
    "person_page",
    "phone_page",
    "screenshot",
    "sign_in",
]
