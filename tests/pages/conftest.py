"""A real browser against the real server: Debian's Chromium, driven by Playwright, on `LiveServer`
(the app under uvicorn, on the suite's PostgreSQL and Redis or the embedded ones).

Screenshots go to $LINLI_SCREENSHOTS (default var/screenshots); `make screenshots` writes the ones
the README shows into docs/screenshots."""

from __future__ import annotations

import shutil

import pytest

from tests.fixtures.pages import TABLET


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is needed for the page tests: `make test` installs Debian's chromium")
    return path


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def open_page(browser, live_server):
    """open_page(viewport, path, fake_time=None) → a page in a fresh browser context (its own
    localStorage), at the live server. Console errors fail the test."""
    contexts, errors = [], []

    def make(viewport=TABLET, path="/", fake_time=None, **context_args):
        context = browser.new_context(
            viewport=viewport, base_url=live_server.url, locale="zh-CN", **context_args
        )
        contexts.append(context)
        if fake_time is not None:  # the page's clock and timers, moved by the test (context.clock)
            context.clock.install(time=fake_time)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path)
        return page

    yield make
    for c in contexts:
        c.close()
    assert errors == [], errors
