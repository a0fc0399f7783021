"""Fixtures shared by the browser tests (headless Debian Chromium driven by Playwright).

Import them into a browser test module (`from tests.browser.browser_fixtures import browser, ...`).

The live server runs in a thread of this process, so `settings` overrides reach it. Data
migrations load the Member States and the taxonomy; `serialized_rollback` reloads them before
each transactional test (the flush removes them), and `_reference_data_stays` once more after
each module that imports it.

Playwright's sync API marks an asyncio loop as running in the main thread for as long as it is
started, and Django then keeps its database connections in per-context (not thread-local)
storage. pytest-django's set-up and flush must see the thread-local connection (it holds the
serialized data for the rollback), so Playwright is started per test, after the database
fixtures, and stopped before their teardown.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connections
from django.urls import NoReverseMatch, reverse

from tests.conftest import PASSWORD, have_chromium
from tests.paths import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "artifacts" / "browser"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module", autouse=True)
def _reference_data_stays(django_db_setup, django_db_blocker):
    """Leave the migrations' data (Member States, taxonomy) in place for later tests.

    Each transactional test ends with a flush, and `serialized_rollback` reloads the data only at
    the start of the next such test; pytest-django runs tests that reach the database through
    `request.getfixturevalue` after this module, on the flushed database.
    """
    yield
    with django_db_blocker.unblock():
        for alias in connections:
            contents = getattr(connections[alias], "_test_serialized_contents", None)
            if contents:
                connections[alias].creation.deserialize_db_from_string(contents)


@pytest.fixture
def browser(transactional_db, live_server):
    if not have_chromium():
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
        # Connections opened while Playwright's loop ran live in that context's storage; close
        # them here, or PostgreSQL refuses to drop the test database at the end of the run.
        connections.close_all()


@pytest.fixture
def new_page(browser, live_server):
    """Open a page in a fresh browser context (its own cookies: one person per context)."""
    contexts = []

    def _open(**options):
        options.setdefault("locale", "en-GB")
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield _open
    for context in contexts:
        context.close()


def stylesheet_applied(page) -> bool:
    """site.css reached the browser: the header is laid out as a flex row."""
    return page.evaluate(
        "getComputedStyle(document.querySelector('header.site')).display") == "flex"


def log_in(page, live_server, username: str) -> None:
    """Sign in with the test password (two-factor is off in tests unless a test turns it on)."""
    page.goto("/account/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main form").get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")


def gateway_missing() -> str | None:
    """Why the gateway journey cannot run yet (the app is built beside these tests), or None."""
    if not apps.is_installed("sentinelle.gateway"):
        return "the gateway app (sentinelle.gateway) is not installed yet"
    try:
        for name, args in (("gateway-create", ["initiatives"]), ("gateway-moderation", []),
                           ("gateway-feed", ["initiatives"])):
            reverse(name, args=args)
    except NoReverseMatch as exc:
        return f"the gateway's pages are not all there yet ({exc})"
    return None
