"""Browser journeys for the public gateway and its six languages (issue 5), in headless Chromium.

The fixtures are shared with tests/browser/test_browser_journey.py
(tests/browser/browser_fixtures.py).
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import reverse

from sentinelle.core.models import Role
from tests.browser import browser_fixtures
from tests.browser.browser_fixtures import ARTIFACTS, gateway_missing, log_in, stylesheet_applied
from tests.conftest import make_user

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]
_reference_data_stays = browser_fixtures._reference_data_stays
browser = browser_fixtures.browser
new_page = browser_fixtures.new_page


def arabic_enabled() -> bool:
    return "ar" in dict(settings.LANGUAGES)


def test_visitor_switches_to_arabic_and_the_layout_mirrors(new_page, live_server):
    if not arabic_enabled():
        pytest.skip("Arabic not enabled yet")
    page = new_page(viewport={"width": 1280, "height": 800})
    page.goto("/")
    html = page.locator("html")
    assert html.get_attribute("dir") == "ltr"
    brand = page.locator("header.site .brand")
    ltr_box = brand.bounding_box()
    assert ltr_box["x"] + ltr_box["width"] <= 1280 / 2, ltr_box

    with page.expect_navigation():
        page.select_option("#language", "ar")
    assert html.get_attribute("lang") == "ar"
    assert html.get_attribute("dir") == "rtl"
    assert {c["name"]: c["value"] for c in page.context.cookies()}.get("django_language") == "ar"
    assert stylesheet_applied(page)
    # Mirrored: the brand, first in the header, now starts from the right edge.
    rtl_box = brand.bounding_box()
    assert rtl_box["x"] >= 1280 / 2, rtl_box
    assert page.evaluate("getComputedStyle(document.querySelector('header.site')).direction") \
        == "rtl"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "home-ar.png"), full_page=True)


def test_focal_point_proposes_an_initiative_the_secretariat_publishes_it_into_the_feed(
        new_page, live_server):
    if reason := gateway_missing():
        pytest.skip(reason)
    make_user("alice", Role.FOCAL_POINT, "CU")
    make_user("charlie", Role.ANALYST)
    title = "Caribbean CSIRT exercise 2026"
    feed_url = reverse("gateway-feed", args=["initiatives"])

    # 1. The focal point of Cuba proposes an initiative and submits it for review.
    focal = new_page()
    log_in(focal, live_server, "alice")
    focal.goto(reverse("gateway-create", args=["initiatives"]))
    focal.fill("#id_title", title)
    focal.select_option("#id_scope", "regional")
    focal.fill("#id_description", "A joint incident-response exercise of Caribbean CIRTs.")
    focal.fill("#id_links", "https://example.org/exercise")
    focal.locator("main form").get_by_role("button", name="Save").click()
    focal.wait_for_url(re.compile(r"/gateway/initiatives/\d+/$"))
    entry_url = focal.url
    assert focal.locator("h1").inner_text() == title
    focal.get_by_role("button", name="Submit for review").click()
    focal.wait_for_load_state()
    assert focal.locator("[data-status]").get_attribute("data-status") == "submitted"

    # Not yet published: an anonymous visitor finds it neither in the feed nor at its address.
    visitor = new_page()
    assert title not in visitor.request.get(feed_url).text()
    assert visitor.goto(entry_url).status == 404

    # 2. The Secretariat finds it in the review queue and publishes it.
    analyst = new_page()
    log_in(analyst, live_server, "charlie")
    analyst.goto(reverse("gateway-moderation"))
    analyst.get_by_role("link", name=title).click()
    analyst.wait_for_url(entry_url)
    analyst.get_by_role("button", name="Publish", exact=True).click()
    analyst.wait_for_url(entry_url)
    assert "Published" in analyst.locator(".messages").inner_text()
    assert analyst.locator("[data-status]").count() == 0  # the "not public" notice is gone

    # 3. The visitor now reads it on its page and in the Atom feed.
    response = visitor.goto(entry_url)
    assert response.ok
    assert visitor.locator("h1").inner_text() == title
    feed = visitor.request.get(feed_url)
    assert feed.ok
    assert "application/atom+xml" in feed.headers["content-type"]
    assert f"<title>{title}</title>" in feed.text()
    assert entry_url.removeprefix(live_server.url) in feed.text()


def test_visitor_searches_the_gateway_in_french_and_opens_a_cirt_entry(new_page, live_server):
    if reason := gateway_missing():
        pytest.skip(reason)
    from sentinelle.gateway.models import CirtTeam, GoodPractice
    from tests.gateway_helpers import make_entry, publish

    alice = make_user("alice", Role.FOCAL_POINT, "CU")
    charlie = make_user("charlie", Role.ANALYST)
    practice = publish(make_entry(
        alice, GoodPractice, language="fr",
        measure="Plateforme nationale de signalement de l'hameçonnage",
        problem="Les campagnes d'hameçonnage visaient les clients des banques.",
        results="Les sites frauduleux sont fermés en moins d'un jour."), alice, charlie)
    publish(make_entry(alice, GoodPractice, measure="Patch Tuesday for ministries",
                       problem="Unpatched servers."), alice, charlie)
    cirt = publish(make_entry(alice, CirtTeam, name="CSIRT Cuba",
                              constituency="Réseaux de l'administration publique.",
                              email="csirt@example.cu", hours="24/7",
                              time_zone="America/Havana"), alice, charlie)

    page = new_page()
    page.goto(reverse("gateway"))
    with page.expect_navigation():
        page.select_option("#language", "fr")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.fill("#gateway-q", "hameçonnage")
    page.locator("form[role=search]").get_by_role("button").click()
    page.wait_for_url(re.compile(r"/gateway/search/\?q="))
    results = page.locator("ol.results > li")
    assert results.count() == 1
    hit = results.first.get_by_role("link")
    assert hit.inner_text() == practice.measure
    assert hit.get_attribute("lang") == "fr"
    assert "hameçonnage" in results.first.locator("mark").first.inner_text().lower()
    hit.click()
    page.wait_for_url(f"{live_server.url}{practice.get_absolute_url()}")
    assert page.locator("h1").inner_text() == practice.measure

    # The CIRT directory, in French, leads to the team's RFC 2350 entry.
    page.goto(reverse("gateway-list", args=["cirts"]))
    page.get_by_role("link", name="CSIRT Cuba").click()
    page.wait_for_url(f"{live_server.url}{cirt.get_absolute_url()}")
    assert page.locator("h1").inner_text() == "CSIRT Cuba"
    facts = page.locator("main").inner_text()
    assert "csirt@example.cu" in facts and "America/Havana" in facts
