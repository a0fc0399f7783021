"""End-to-end journeys in a real headless Chromium (Debian's /usr/bin/chromium) via Playwright.

The fixtures (and why Playwright starts per test) are in tests/browser/browser_fixtures.py.
"""

from __future__ import annotations

import hashlib
import re

import pytest
from django_otp.oath import TOTP, hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from sentinelle.core.models import Role, User
from tests.browser import browser_fixtures
from tests.browser.browser_fixtures import ARTIFACTS, stylesheet_applied
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]
_reference_data_stays = browser_fixtures._reference_data_stays
browser = browser_fixtures.browser
new_page = browser_fixtures.new_page


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
    assert "The report was submitted to the Secretariat: " \
        in focal.locator(".messages").inner_text()
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
    analyst.get_by_role("button", name="Acknowledge", exact=True).click()
    analyst.wait_for_load_state()
    assert status_text(analyst) == "Acknowledged"
    request = "Please send the firewall logs for 1 March, 08:00 to 12:00 UTC."
    analyst.fill("#id_note", request)
    analyst.get_by_role("button", name="Request information").click()
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
