"""The browser helpers fail when they should: a check that never fails proves nothing."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from compressor_kit.testing.browser import assert_accessible, assert_clean, assert_fits, page_log


async def test_axe_reports_serious_violations_readably(desktop_page: Page) -> None:
    # An input without a label and a button without a name: both "critical" in axe.
    await desktop_page.set_content(
        '<!DOCTYPE html><html lang="en"><title>t</title><main><input><button></button></main>'
    )
    with pytest.raises(AssertionError) as failure:
        await assert_accessible(desktop_page)
    assert "critical: label: Form elements must have labels" in str(failure.value)
    assert "button-name" in str(failure.value)


async def test_console_errors_and_uncaught_errors_fail_the_page(phone_page: Page) -> None:
    await phone_page.set_content("<!DOCTYPE html><title>t</title><p>hi</p>")
    assert_clean(phone_page)
    await phone_page.evaluate("console.error('boom')")
    await phone_page.evaluate("setTimeout(() => { throw new Error('uncaught') })")
    await phone_page.wait_for_timeout(50)
    assert page_log(phone_page).page_errors == ["uncaught"]
    with pytest.raises(AssertionError, match="console error: boom"):
        assert_clean(phone_page)


async def test_a_page_wider_than_the_phone_fails(phone_page: Page) -> None:
    await phone_page.set_content(
        '<!DOCTYPE html><meta name="viewport" content="width=device-width"><div style="width:600px">x</div>'
    )
    with pytest.raises(AssertionError, match="scrolls sideways"):
        await assert_fits(phone_page)


async def test_a_page_without_a_viewport_tag_does_not_fit_a_phone(phone_page: Page) -> None:
    await phone_page.set_content("<!DOCTYPE html><title>t</title><p>hi</p>")
    with pytest.raises(AssertionError, match="scrolls sideways: content 980 px wide"):
        await assert_fits(phone_page)
