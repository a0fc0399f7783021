"""The analyst's day in a real browser (issue 12, points 7 and 8): the queue sorted by age shows
the oldest report first with its overdue mark, and the report's actions are in the first screen
of a 1280x800 laptop, however long the rest of the page is.

The fixtures (and why Playwright starts per test) are in tests/browser/browser_fixtures.py."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from sentinelle.core.models import Role
from sentinelle.incidents.models import Incident, Transition
from tests.browser import browser_fixtures
from tests.browser.browser_fixtures import ARTIFACTS, log_in, stylesheet_applied
from tests.conftest import file_report, make_user

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]
_reference_data_stays = browser_fixtures._reference_data_stays
browser = browser_fixtures.browser
new_page = browser_fixtures.new_page

LAPTOP = {"width": 1280, "height": 800}


def _submitted(incident: Incident, hours_ago: float) -> None:
    at = timezone.now() - dt.timedelta(hours=hours_ago)
    Incident.objects.filter(pk=incident.pk).update(submitted_at=at)
    Transition.objects.filter(incident=incident, to_status="submitted").update(at=at)


def test_analyst_sorts_the_queue_by_age_and_acts_from_the_first_screen(new_page, live_server):
    alice = make_user("alice", Role.FOCAL_POINT, "CU")
    make_user("charlie", Role.ANALYST)
    # A long narrative and many indicators: the page below the actions is long, as in the demo.
    long_text = "Traffic to the national portal was diverted through an unknown AS. " * 120
    indicators = [{"type": "ipv4", "value": f"192.0.2.{n}"} for n in range(1, 60)]
    oldest = file_report(alice, title="Oldest: route leak at the exchange point",
                         category="routing-disruption", rsit="availability:outage",
                         started_at="2026-01-10T06:00:00Z", ended_at="2026-01-10T09:00:00Z",
                         description=long_text, indicators=indicators)
    recent = file_report(alice, title="Recent: portal defaced",
                         started_at="2026-09-01T06:00:00Z", ended_at="2026-09-01T07:00:00Z")
    middle = file_report(alice, title="Middle: phishing wave",
                         started_at="2026-05-01T06:00:00Z", ended_at="2026-05-02T06:00:00Z")
    _submitted(oldest, 30)   # routing disruption: acknowledge within 8 hours -> overdue
    _submitted(recent, 1)    # within the 24 hours of its category
    _submitted(middle, 2)

    page = new_page(viewport=LAPTOP)
    log_in(page, live_server, "charlie")
    page.goto("/analysis/queue/")
    assert page.locator("h1").inner_text() == "Secretariat queue"
    assert stylesheet_applied(page)

    # Sort by age: the column header is a link; the oldest incident comes first.
    page.locator("thead").get_by_role("link", name="Age").click()
    page.wait_for_url(re.compile(r"/analysis/queue/\?sort=-age$"))
    sorted_header = page.locator("th[aria-sort]")
    assert sorted_header.count() == 1
    assert sorted_header.get_attribute("aria-sort") == "descending"
    assert sorted_header.inner_text().startswith("Age")
    titles = page.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert titles == ["Oldest: route leak at the exchange point", "Middle: phishing wave",
                      "Recent: portal defaced"]
    first = page.locator("tbody tr").first
    mark = first.locator(".overdue")
    assert mark.inner_text().startswith("Acknowledgement overdue by 22 h")
    assert mark.evaluate("e => getComputedStyle(e).fontWeight") == "700"  # not colour alone
    assert "overdue" not in page.locator("tbody tr").nth(2).inner_text()
    assert "Acknowledge within" in page.locator("tbody tr").nth(2).inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "analyst-queue-sorted.png"), full_page=True)

    # A second click on the header reverses the order.
    page.locator("thead").get_by_role("link", name="Age").click()
    page.wait_for_url(re.compile(r"/analysis/queue/\?sort=age$"))
    assert page.locator("th[aria-sort]").get_attribute("aria-sort") == "ascending"
    assert page.locator("tbody tr td:nth-child(2)").first.inner_text() == "Recent: portal defaced"

    # The analyst opens the oldest report: the actions are in the first screen.
    page.locator("thead").get_by_role("link", name="Age").click()
    page.wait_for_url(re.compile(r"\?sort=-age$"))
    page.locator("tbody tr").first.get_by_role("link").first.click()
    page.wait_for_url(re.compile(rf"/incidents/{oldest.pk}/$"))
    assert page.evaluate("document.documentElement.scrollHeight") > 2 * LAPTOP["height"]
    for name in ("Acknowledge", "Request information", "Mark as duplicate"):
        button = page.get_by_role("button", name=name, exact=True)
        box = button.bounding_box()
        assert box is not None and box["y"] + box["height"] <= LAPTOP["height"], (name, box)
    note = page.locator("#id_note").bounding_box()
    assert note["y"] + note["height"] <= LAPTOP["height"]
    # The status line and the actions come before the narrative.
    narrative = page.get_by_role("heading", name="Narrative").bounding_box()
    assert narrative["y"] > page.get_by_role("button", name="Acknowledge", exact=True) \
        .bounding_box()["y"]
    page.screenshot(path=str(ARTIFACTS / "analyst-queue.png"))

    # The request for information is made from there and heads the thread.
    page.fill("#id_note", "Send the BGP updates you saw from AS64500.")
    page.get_by_role("button", name="Request information").click()
    page.wait_for_load_state()
    assert page.locator("#status").inner_text().strip() == "Information requested"
    first_message = page.locator(".thread article").first
    assert first_message.inner_text().startswith("Request for information")
    assert "Send the BGP updates" in first_message.inner_text()
