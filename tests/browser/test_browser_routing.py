"""The routing monitor's page in a real headless Chromium (fixtures:
tests/browser/browser_fixtures.py): Cuba's focal point opens it from the menu, reads the alerts and
the timeline, corrects a watch list with an error, saves and downloads it, then reads the page in
Arabic, mirrored."""

from __future__ import annotations

import re

import pytest

from sentinelle.core.models import Role
from sentinelle.observatory.management.commands.seed_observatory import Command
from tests.browser import browser_fixtures
from tests.browser.browser_fixtures import ARTIFACTS, log_in, stylesheet_applied
from tests.conftest import make_user

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]
_reference_data_stays = browser_fixtures._reference_data_stays
browser = browser_fixtures.browser
new_page = browser_fixtures.new_page

FIXED = """states:
  CU:
    asns: [27725]
    prefixes:
      - {prefix: 152.206.0.0/16, origins: [27725], max_length: 24}
      - {prefix: 200.55.128.0/18, origins: [27725], max_length: 24}
"""
BROKEN = FIXED.replace("200.55.128.0/18", "200.55.128.0/33")


def box(locator) -> dict:
    found = locator.bounding_box()
    assert found is not None, "not laid out"
    return found


def test_focal_point_reads_edits_and_downloads_in_english_and_arabic(new_page, live_server):
    alice = make_user("alice", Role.FOCAL_POINT, "CU")
    Command()._live_routing(alice)   # the demo's watch list and a few days of live events
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = new_page(viewport={"width": 1280, "height": 1000})
    log_in(page, live_server, "alice")

    # 1. From the grouped menu: Observatory > Routing monitor.
    page.locator("header").get_by_text("Observatory", exact=True).click()
    page.get_by_role("link", name="Routing monitor").click()
    page.wait_for_url(f"{live_server.url}/observatory/routing/")
    assert stylesheet_applied(page)
    assert "Routing monitor" in page.locator("h1").inner_text()
    current = page.locator("#current table").inner_text()
    assert "E|0" in current and "AS64500" in current and "invalid" in current
    assert "high" in current
    history = page.locator("#history table").inner_text()
    assert "visibility-loss" in history and "2 h" in history       # 7,800 s
    assert "planned maintenance" in page.locator("#mutes").inner_text()
    assert "ris-live" in page.locator("#feeds").inner_text()

    # 2. The timeline: one bar per alert, labels at the start (left), time running rightwards.
    bars = page.locator("table.timeline td.tl-bar")
    assert bars.count() == 5
    labels = page.locator("table.timeline th.tl-label")
    assert "S|0" in labels.nth(0).inner_text()                     # newest first
    newest, oldest = box(bars.nth(0)), box(bars.nth(4))
    assert box(labels.nth(0))["x"] < oldest["x"] < newest["x"]
    page.locator("#timeline").screenshot(path=str(ARTIFACTS / "routing-timeline.png"))
    page.screenshot(path=str(ARTIFACTS / "routing-page.png"), full_page=True)

    # 3. A watch list with an error: the line is named, nothing saved.
    page.fill("#id_yaml", BROKEN)
    page.get_by_role("button", name="Save the watch list").click()
    page.wait_for_load_state()
    error = page.locator("#errors-yaml").inner_text()
    assert re.search(r"line 6\b", error), error
    assert "200.55.128.0/33" in page.input_value("#id_yaml")
    assert "200.55.128.0" not in page.locator("#watch table").inner_text()
    page.locator("#watch").screenshot(path=str(ARTIFACTS / "routing-yaml-error.png"))

    # 4. Fixed and saved: the watched prefixes follow; the file downloads as it was typed.
    page.fill("#id_yaml", FIXED)
    page.get_by_role("button", name="Save the watch list").click()
    page.wait_for_load_state()
    assert "The watch list was saved." in page.locator(".messages").inner_text()
    assert "200.55.128.0/18" in page.locator("#watch table").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download watch.yaml").click()
    assert download.value.suggested_filename == "watch.yaml"
    with open(download.value.path(), encoding="utf-8") as handle:
        assert handle.read() == FIXED

    # 5. In Arabic the page is right to left and the chart mirrored: labels on the right, the
    # oldest alert's bar right of the newest's.
    with page.expect_navigation():
        page.select_option("#language", "ar")
    assert page.locator("html").get_attribute("dir") == "rtl"
    page.goto("/observatory/routing/")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator(".timeline-chart").get_attribute("dir") == "rtl"
    bars = page.locator("table.timeline td.tl-bar")
    labels = page.locator("table.timeline th.tl-label")
    newest, oldest = box(bars.nth(0)), box(bars.nth(4))
    label = box(labels.nth(0))
    assert newest["x"] + newest["width"] <= oldest["x"] + oldest["width"]
    assert oldest["x"] + oldest["width"] <= label["x"] + 1
    page.screenshot(path=str(ARTIFACTS / "routing-ar.png"), full_page=True)
