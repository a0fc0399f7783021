"""What a newcomer tripped on in Chromium walking issue 12's journeys (the server-side checks are
in test_newcomer_walk.py). Fixtures: tests/browser/browser_fixtures.py."""

from __future__ import annotations

import pytest

from sentinelle.core.models import Role
from tests.browser import browser_fixtures
from tests.browser.browser_fixtures import ARTIFACTS, log_in
from tests.browser.test_browser_focal_form import fill_report
from tests.conftest import file_report, make_user

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]
_reference_data_stays = browser_fixtures._reference_data_stays
browser = browser_fixtures.browser
new_page = browser_fixtures.new_page


def test_switching_language_on_a_typed_report_asks_before_dropping_it(new_page, live_server):
    # The newcomer typed half a report, chose "Français" in the header to read the labels, and
    # came back to an empty form: the switcher is another form, and nothing typed was kept.
    make_user("alice", Role.FOCAL_POINT, "CU")
    page = new_page()
    log_in(page, live_server, "alice")
    page.goto("/incidents/new/")
    asked, answer = [], {"accept": False}

    def on_dialog(dialog) -> None:
        asked.append((dialog.type, dialog.message))
        dialog.accept() if answer["accept"] else dialog.dismiss()

    page.on("dialog", on_dialog)
    page.locator("#id_title").click()
    page.locator("#id_title").press_sequentially("Outage of the national resolvers")
    page.select_option("#language", "fr")
    page.wait_for_timeout(500)
    assert asked == [("confirm", "Change the language? What you typed in this form is not saved "
                                 "yet and would be lost.")]
    # Cancelled: the page, what was typed and the switcher's choice stay as they were.
    assert page.url.endswith("/incidents/new/")
    assert page.input_value("#id_title") == "Outage of the national resolvers"
    assert page.input_value("#language") == "en"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "newcomer-language-switch-kept.png"))
    # Leaving by a link asks too (the browser's own question).
    page.locator("h1").click()
    page.locator("header a.brand").click()
    page.wait_for_timeout(500)
    assert asked[-1][0] == "beforeunload"
    assert page.url.endswith("/incidents/new/")
    # The form's own buttons leave without a question: Preview shows the report.
    fill_report(page)
    page.fill("#id_title", "Outage")
    page.locator("#incident-form button[name=preview]").click()
    page.wait_for_load_state()
    assert len(asked) == 2
    assert page.locator("section.preview").is_visible()
    # The previewed report is still unsaved: switching language asks again; accepted, it
    # switches at once, without a second question from the browser.
    answer["accept"] = True
    with page.expect_navigation():
        page.select_option("#language", "fr")
    assert [kind for kind, _ in asked] == ["confirm", "beforeunload", "confirm"]
    assert page.locator("html").get_attribute("lang") == "fr"


def test_a_fresh_form_changes_language_without_a_question(new_page, live_server):
    make_user("alice", Role.FOCAL_POINT, "CU")
    page = new_page()
    log_in(page, live_server, "alice")
    page.goto("/incidents/new/")
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.accept()))
    page.locator("#id_title").click()
    with page.expect_navigation():
        page.select_option("#language", "fr")
    assert asked == []
    assert page.locator("h1").inner_text() != "Report an incident"


def test_a_card_starts_with_its_heading_not_with_a_blank_band(new_page, live_server):
    # The receipt and the dashboard's cards opened with a band of empty space above their title
    # (the heading's own top margin inside the card's padding).
    alice = make_user("alice", Role.FOCAL_POINT, "CU")
    incident = file_report(alice)
    page = new_page()
    log_in(page, live_server, "alice")
    for url, card in ((f"/incidents/{incident.pk}/", "#receipt"), ("/", "main .card")):
        page.goto(url)
        box = page.locator(card).first.bounding_box()
        heading = page.locator(card).first.locator("h2").bounding_box()
        assert heading["y"] - box["y"] < 24, (url, heading["y"] - box["y"])


def wider(page) -> list[str]:
    """The elements that stick out of a 390 px wide page (for the failure message)."""
    return page.evaluate("""() => [...document.querySelectorAll("body *")]
        .filter(e => e.getBoundingClientRect().right > 391).slice(0, 6)
        .map(e => e.tagName + "." + e.className)""")


def test_on_a_phone_a_wide_table_scrolls_in_its_box_not_the_whole_page(new_page, live_server):
    # On a 390 px phone the queue and the report list pushed the whole page sideways (1,000 px
    # wide): the header and the text scrolled away with the table.
    make_user("charlie", Role.ANALYST)
    alice = make_user("alice", Role.FOCAL_POINT, "CU")
    incident = file_report(alice, indicators=[{"type": "sha256", "value": "ab" * 32}])
    page = new_page(viewport={"width": 390, "height": 844})
    log_in(page, live_server, "charlie")
    for url in ("/analysis/queue/", "/incidents/", f"/incidents/{incident.pk}/",
                "/analysis/public/"):
        page.goto(url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (url, wider(page))
        table = page.locator("main table").first
        # The table itself can still be scrolled to its last column.
        assert table.evaluate("t => t.scrollWidth > t.clientWidth || t.scrollWidth <= 390")
    page.goto("/analysis/queue/")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "newcomer-phone-queue.png"))
