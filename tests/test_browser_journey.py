"""End-to-end journeys in a real headless Chromium (Debian's /usr/bin/chromium) via Playwright.

The live server runs in a thread of this process, so `settings` overrides reach it. Data
migrations load the Member States and the taxonomy; `serialized_rollback` reloads them before
each test here (the transactional flush removes them), and `_reference_data_stays` once more
after the module.

Playwright's sync API marks an asyncio loop as running in the main thread for as long as it is
started, and Django then keeps its database connections in per-context (not thread-local)
storage. pytest-django's set-up and flush must see the thread-local connection (it holds the
serialized data for the rollback), so Playwright is started per test, after the database
fixtures, and stopped before their teardown.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from django.db import connections
from django_otp.oath import TOTP, hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from sentinelle.core.models import Role, User
from tests.conftest import PASSWORD, have_chromium, make_user

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"
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

    def _open():
        context = browser.new_context(base_url=live_server.url, locale="en-GB")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def require_2fa(settings):
    settings.REQUIRE_2FA = True


def with_authenticator(user: User) -> TOTPDevice:
    """A confirmed TOTP device whose key the test knows (TOTPDevice generates a random key)."""
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def current_code(device: TOTPDevice) -> str:
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def invalid_code(device: TOTPDevice) -> str:
    """A code valid in none of the time steps the device tolerates."""
    device.refresh_from_db()
    now = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).t()
    valid = {hotp(device.bin_key, now + offset, digits=device.digits)
             for offset in range(-device.tolerance - 1, device.tolerance + 2)}
    wrong = next(n for n in range(10**device.digits) if n not in valid)
    return f"{wrong:0{device.digits}d}"


def sign_in_with_password(page, username: str) -> None:
    page.goto("/account/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main form").get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/account/two-factor/"))


def sign_in(page, live_server, username: str, device: TOTPDevice) -> None:
    sign_in_with_password(page, username)
    page.fill("#id_code", current_code(device))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server.url}/")


def stylesheet_applied(page) -> bool:
    """site.css reached the browser: the header is laid out as a flex row."""
    return page.evaluate(
        "getComputedStyle(document.querySelector('header.site')).display") == "flex"


def status_text(page) -> str:
    return page.locator("#status").inner_text().strip()


def test_report_request_and_answer_journey(new_page, live_server, require_2fa):
    alice = make_user("alice", Role.FOCAL_POINT, "CU")
    charlie = make_user("charlie", Role.ANALYST)
    alice_device = with_authenticator(alice)
    charlie_device = with_authenticator(charlie)

    # 1. The focal point of Cuba signs in: password, then the two-factor page, then the dashboard.
    focal = new_page()
    sign_in_with_password(focal, "alice")
    assert focal.locator("h1").inner_text() == "Two-factor sign-in"
    focal.fill("#id_code", current_code(alice_device))
    focal.get_by_role("button", name="Verify").click()
    focal.wait_for_url(f"{live_server.url}/")
    assert "Reports from Cuba" in focal.locator("h1").inner_text()

    # 2. She files a report with an indicator and an evidence file, and submits it.
    evidence = b"Sentinelle capture\n" + bytes(range(256)) * 4
    expected_sha256 = hashlib.sha256(evidence).hexdigest()
    focal.get_by_role("link", name="Report an incident").first.click()
    focal.wait_for_url(re.compile(r"/incidents/new/$"))
    focal.fill("#id_title", "DDoS against the national portal")
    focal.select_option("#id_category", "trust-security")
    focal.select_option("#id_rsit", "availability:ddos")
    focal.select_option("#id_tlp", "amber")
    focal.fill("#id_started_at", "2026-03-01T08:00")
    focal.fill("#id_description", "Volumetric attack from a botnet against www.gob.cu.")
    focal.fill("#id_indicators", "ipv4 203.0.113.7")
    focal.set_input_files("input[name=attachments]", files=[
        {"name": "capture.bin", "mimeType": "application/octet-stream", "buffer": evidence}])
    focal.get_by_role("button", name="Submit to the Secretariat").click()
    focal.wait_for_url(re.compile(r"/incidents/\d+/$"))
    detail_url = focal.url
    assert status_text(focal) == "Submitted"
    assert "The report was submitted." in focal.locator(".messages").inner_text()
    row = focal.locator("#evidence + table tbody tr").filter(has_text="capture.bin")
    assert row.count() == 1
    assert row.locator("code.hash").inner_text().strip() == expected_sha256
    assert row.locator("td.num").inner_text().strip() == str(len(evidence))
    assert "203.0.113.7" in focal.locator("table").first.inner_text()
    assert stylesheet_applied(focal)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    focal.screenshot(path=str(ARTIFACTS / "report-detail.png"), full_page=True)

    # 3. In a fresh context the analyst signs in, acknowledges, then asks for information.
    analyst = new_page()
    sign_in(analyst, live_server, "charlie", charlie_device)
    assert analyst.locator("h1").inner_text() == "Secretariat"
    analyst.goto(detail_url)
    analyst.select_option("#id_to_status", label="Acknowledged")
    analyst.get_by_role("button", name="Apply").click()
    analyst.wait_for_load_state()
    assert status_text(analyst) == "Acknowledged"
    request = "Please send the firewall logs for 1 March, 08:00 to 12:00 UTC."
    analyst.select_option("#id_to_status", label="Information requested")
    analyst.fill("#id_note", request)
    analyst.get_by_role("button", name="Apply").click()
    analyst.wait_for_load_state()
    assert status_text(analyst) == "Information requested"

    # 4. The focal point reloads, sees the request and answers; the analysis resumes.
    focal.reload()
    assert status_text(focal) == "Information requested"
    thread = focal.locator(".thread")
    assert request in thread.inner_text()
    answer = "Logs attached separately; the attack peaked at 09:40 UTC."
    focal.fill("#id_body", answer)
    focal.get_by_role("button", name="Send the information").click()
    focal.wait_for_url(re.compile(r"/incidents/\d+/#thread$"))
    assert status_text(focal) == "Under analysis"
    assert answer in focal.locator(".thread").inner_text()

    analyst.reload()
    assert status_text(analyst) == "Under analysis"
    assert answer in analyst.locator(".thread").inner_text()
    assert request in analyst.locator(".thread").inner_text()


def test_wrong_totp_code_stays_on_two_factor_page(new_page, live_server, require_2fa):
    alice = make_user("alice", Role.FOCAL_POINT, "CU")
    device = with_authenticator(alice)

    page = new_page()
    sign_in_with_password(page, "alice")
    page.fill("#id_code", invalid_code(device))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()
    assert "/account/two-factor/" in page.url
    assert "This code is not valid" in page.locator("#errors-code").inner_text()
    # Still not verified: the dashboard sends her back to the second factor.
    page.goto("/")
    assert "/account/two-factor/" in page.url


def test_anonymous_visitor_switches_to_french(new_page, live_server):
    page = new_page()
    page.goto("/account/login/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert stylesheet_applied(page)
    with page.expect_navigation():
        page.select_option("#language", "fr")
    html = page.locator("html")
    assert html.get_attribute("lang") == "fr"
    assert html.get_attribute("dir") == "ltr"
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert cookies.get("django_language") == "fr"
    assert "/account/login/" in page.url
    # Django's own French catalogue labels the password field, compiled project catalogue or not.
    assert "Mot de passe" in page.locator("label[for=id_password]").inner_text()
