"""The analyst searches by an indicator, opens the report and reads why other reports correlate
with it (issue 12, points 5 and 6), in a real headless Chromium.

The fixtures (and why Playwright starts per test) are in tests/browser/browser_fixtures.py.
"""

from __future__ import annotations

import re

import pytest

from sentinelle.core.models import Role
from tests.browser import browser_fixtures
from tests.browser.browser_fixtures import ARTIFACTS, log_in
from tests.conftest import file_report, make_user

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]
_reference_data_stays = browser_fixtures._reference_data_stays
browser = browser_fixtures.browser
new_page = browser_fixtures.new_page

HASH = "5f3c0e1b9d2a4c6e8f1a3b5d7c9e0f2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c0d2e"


def ind(kind: str, value: str) -> dict:
    return {"type": kind, "value": value}


def test_analyst_searches_by_indicator_and_reads_why_reports_correlate(new_page, live_server):
    alice = make_user("alice", Role.FOCAL_POINT, "CU")
    bob = make_user("bob", Role.FOCAL_POINT, "CH")
    make_user("charlie", Role.ANALYST)
    noise = [ind("ipv4", "203.0.113.7"), ind("domain", "botnet.example")]
    target = file_report(alice, title="Defacement of the national portal", indicators=[
        *noise, ind("domain", "portal.gob.cu"), ind("sha256", HASH),
        ind("domain", "drop.brokenrelay.net")])
    # Twelve reports share the hash, one of them the domain too; three share only the
    # documentation range and the reserved domain, which correlate nothing.
    sharing = [file_report(bob, title=f"Same implant, site {n}",
                           indicators=[ind("sha256", HASH)]) for n in range(11)]
    best = file_report(bob, title="Same implant and drop server", indicators=[
        ind("sha256", HASH), ind("domain", "drop.brokenrelay.net")])
    unrelated = [file_report(bob, title=f"Unrelated scan {n}", indicators=noise)
                 for n in range(3)]

    page = new_page(viewport={"width": 1280, "height": 900})
    log_in(page, live_server, "charlie")

    # 1. The analyst searches the reports by a domain the State reported.
    page.goto("/incidents/")
    page.get_by_label("Search").fill("portal.gob.cu")
    page.get_by_label("Search").press("Enter")
    # The unfiltered list already holds the report: wait for the search's own answer.
    page.wait_for_function(
        "() => /^1 report\\b/.test(document.querySelector('#rows').innerText.trim())")
    rows = page.locator("#rows").inner_text()
    assert target.reference in rows and "Defacement of the national portal" in rows
    assert "No report matches" not in rows
    assert "1 report" in rows
    assert all(r.reference not in rows for r in [*sharing, best, *unrelated])

    # 2. An address range finds the report by containment.
    page.goto("/incidents/?q=203.0.113.0/24")
    rows = page.locator("#rows").inner_text()
    assert target.reference in rows

    # 3. She opens it and sees at most ten correlated reports, each with its reason.
    page.goto("/incidents/?q=portal.gob.cu")
    page.get_by_role("link", name=target.reference).click()
    page.wait_for_url(re.compile(rf"/incidents/{target.pk}/$"))
    heading = page.get_by_role("heading", name="Correlated reports")
    heading.scroll_into_view_if_needed()
    items = page.locator("#analysis ol.related > li")
    assert 0 < items.count() <= 10
    texts = [items.nth(i).inner_text() for i in range(items.count())]
    assert all("Shares:" in t and f"SHA-256 hash: {HASH}" in t for t in texts)
    # The report sharing two specific values comes first, and says both.
    assert best.reference in texts[0]
    assert "domain name: drop.brokenrelay.net" in texts[0]
    # Nothing is correlated through the documentation range or the reserved domain.
    section = page.locator("#analysis").inner_text()
    assert all(r.reference not in section for r in unrelated)
    assert "203.0.113" not in section and "botnet.example" not in section
    all_link = page.get_by_role("link", name="All 12 correlated reports")
    assert all_link.is_visible()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#analysis").screenshot(path=str(ARTIFACTS / "analyst-correlation.png"))

    # 4. "All 12" lists every one, still with reasons.
    all_link.click()
    page.wait_for_url(re.compile(rf"/analysis/related/{target.pk}/$"))
    listed = page.locator("ol.related > li")
    assert listed.count() == 12
    assert page.locator("h1").inner_text() == f"Reports correlated with {target.reference}"
