"""The focal point's report form in a real headless Chromium (issue 12, points 9-11): the live
check's message appears beside the field and goes once fixed, chosen evidence files survive
Preview, and Preview reads like the report page in the user's language.

The fixtures (and why Playwright starts per test) are in tests/browser/browser_fixtures.py.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from sentinelle.core.models import Role
from sentinelle.incidents.models import Incident, StagedEvidence, Status
from tests.browser import browser_fixtures
from tests.browser.browser_fixtures import ARTIFACTS, TIMEOUT_MS, log_in, stylesheet_applied
from tests.conftest import make_user

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]
_reference_data_stays = browser_fixtures._reference_data_stays
browser = browser_fixtures.browser
new_page = browser_fixtures.new_page

EVIDENCE = b"%PDF-1.4\n" + bytes(range(256)) * 48   # 12 KB


def expect():
    return pytest.importorskip("playwright.sync_api").expect


def fill_report(page) -> None:
    page.fill("#id_title", "Route leak towards the national portal")
    page.select_option("#id_category", "routing-disruption")
    page.select_option("#id_rsit", "availability:outage")
    page.select_option("#id_severity", "high")
    page.fill("#id_started_at", "2026-03-01T08:00")
    page.fill("#id_ended_at", "2026-03-01T12:00")
    page.fill("#id_affected_services", "fixed internet\nmobile internet")
    page.fill("#id_users_affected", "15000")
    page.fill("#id_description", "A more specific prefix was announced from abroad.")


def see_live_error_then_fix_it(page, shot: str | None = None) -> None:
    """Type a bad indicator, leave the field: the message appears under it; fix it: it goes."""
    errors = page.locator("#errors-indicators")
    page.fill("#id_indicators", "ipv4 999.1.2.3")
    page.locator("#id_indicators").press("Tab")
    expect()(errors).to_contain_text("Line 1", timeout=TIMEOUT_MS)
    assert "999.1.2.3" in errors.inner_text()
    # Beside the field: right under the text area, not somewhere else on the page.
    field, message = page.locator("#id_indicators").bounding_box(), errors.bounding_box()
    assert 0 <= message["y"] - (field["y"] + field["height"]) < 60
    if shot:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator("#field-indicators").screenshot(path=str(ARTIFACTS / shot))
    page.fill("#id_indicators", "prefix 203.0.113.0/24\nipv4 203.0.113.7")
    page.locator("#id_indicators").press("Tab")
    expect()(errors).to_have_text("", timeout=TIMEOUT_MS)


def test_the_live_check_shows_its_message_beside_the_field(new_page, live_server):
    make_user("alice", Role.FOCAL_POINT, "CU")
    page = new_page()
    log_in(page, live_server, "alice")
    page.goto("/incidents/new/")
    see_live_error_then_fix_it(page, shot="focal-form-live-error.png")
    # A required field emptied while typing says so too, in its own slot only.
    page.fill("#id_title", "x")
    page.fill("#id_title", "")
    expect()(page.locator("#errors-title")).to_contain_text("This field is required.",
                                                                  timeout=TIMEOUT_MS)
    assert page.locator("#errors-indicators").inner_text() == ""


def test_preview_in_french_shows_the_labels_and_no_internals(new_page, live_server, catalogues):
    make_user("alice", Role.FOCAL_POINT, "CU")
    page = new_page()
    log_in(page, live_server, "alice")
    page.context.add_cookies([{"name": "django_language", "value": "fr",
                               "url": live_server.url}])
    page.goto("/incidents/new/")
    assert page.locator("html").get_attribute("lang") == "fr"
    fill_report(page)
    page.fill("#id_indicators", "prefix 203.0.113.0/24\nipv4 203.0.113.7")
    page.get_by_role("button", name="Aperçu").click()
    page.wait_for_load_state()
    preview = page.locator("section.preview")
    seen = preview.inner_text()
    assert "Perturbation de l'acheminement du trafic" in seen
    assert "Élevée" in seen
    assert "fixed internet, mobile internet" in seen
    facts = {dt.inner_text(): dd.inner_text() for dt, dd in zip(
        preview.locator("dt").all(), preview.locator("dd").all(), strict=True)}
    assert facts["Consentement à être nommé"] == "non"
    rows = [[cell.inner_text() for cell in row.locator("td").all()]
            for row in preview.locator("tbody tr").all()]
    assert rows == [["préfixe IP", "203.0.113.0/24"], ["adresse IPv4", "203.0.113.7"]]
    for internal in ("['", "{'", "False", "routing-disruption", "consent_to_name"):
        assert internal not in seen, internal
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    preview.screenshot(path=str(ARTIFACTS / "focal-form-preview-fr.png"))


def test_focal_point_drafts_previews_with_a_file_and_saves(new_page, live_server):
    make_user("alice", Role.FOCAL_POINT, "CU")
    page = new_page()
    log_in(page, live_server, "alice")
    page.get_by_role("link", name="Report an incident").first.click()
    page.wait_for_url(re.compile(r"/incidents/new/$"))
    fill_report(page)

    # 1. The live check: a bad indicator is named beside the field, and goes once fixed.
    see_live_error_then_fix_it(page)

    # 2. She chooses an evidence file, then previews.
    page.set_input_files("#id_attachments", files=[
        {"name": "bgp-updates.pdf", "mimeType": "application/pdf", "buffer": EVIDENCE}])
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    preview = page.locator("section.preview")
    seen = preview.inner_text().replace("\xa0", " ")
    assert "Disruption of traffic routing" in seen
    assert "routing-disruption" not in seen and "['" not in seen
    assert "bgp-updates.pdf (12.0 KB)" in seen
    # The file is still with the form, though the browser emptied the file input.
    kept = page.locator("ul.kept-files li")
    expect()(kept).to_have_count(1, timeout=TIMEOUT_MS)
    listed = kept.inner_text().replace("\xa0", " ")
    assert listed.startswith("kept: bgp-updates.pdf (12.0 KB) — remove")
    assert hashlib.sha256(EVIDENCE).hexdigest() in kept.inner_text()
    assert page.locator("#id_title").input_value() == "Route leak towards the national portal"
    assert "{#" not in page.locator("main").inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "focal-form-preview.png"), full_page=True)

    # 3. She saves the draft: the file is the report's evidence, with its SHA-256.
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(r"/incidents/\d+/$"))
    assert page.locator("#status").inner_text().strip() == "Draft"
    row = page.locator("#evidence + table tbody tr").filter(has_text="bgp-updates.pdf")
    expect()(row).to_have_count(1, timeout=TIMEOUT_MS)
    assert row.locator("code.hash").inner_text().strip() == hashlib.sha256(EVIDENCE).hexdigest()
    assert "Disruption of traffic routing" in page.locator("dl.facts").inner_text()
    incident = Incident.objects.get()
    assert incident.status == Status.DRAFT and incident.evidence.count() == 1
    assert not StagedEvidence.objects.exists()
    assert stylesheet_applied(page)
    page.screenshot(path=str(ARTIFACTS / "focal-form.png"), full_page=True)
