"""The header's grouped menu in a real browser (issue 12, point 18), measured by element boxes:
one line on a 1280 px laptop screen, less than a third of a 390 px phone screen with a menu
button that opens it, dropdowns opened from the keyboard; and action-plan verdicts coloured by
meaning (point 19). Screenshots: artifacts/browser/nav-1280.png, nav-390.png, verdicts.png.

The fixtures (and why Playwright starts per test) are in tests/browser/browser_fixtures.py.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from sentinelle.core.models import Role
from tests.browser import browser_fixtures
from tests.browser.browser_fixtures import ARTIFACTS, log_in, stylesheet_applied
from tests.conftest import make_user

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]
_reference_data_stays = browser_fixtures._reference_data_stays
browser = browser_fixtures.browser
new_page = browser_fixtures.new_page

GROUPS = ["Reports", "Analysis", "Observatory", "Exchange"]


def _box(locator) -> dict:
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not laid out"
    return box


def _header_children(page):
    """The header's visible parts: brand, menu, the report button, language, user, sign-out."""
    children = page.locator("header.site > *")
    return [children.nth(i) for i in range(children.count()) if children.nth(i).is_visible()]


def test_the_menu_is_one_line_at_1280_and_opens_from_the_keyboard(new_page, live_server):
    make_user("alice", Role.FOCAL_POINT, "CU")
    page = new_page(viewport={"width": 1280, "height": 800})
    log_in(page, live_server, "alice")
    assert stylesheet_applied(page)
    header = page.locator("header.site")
    menu = header.locator("nav .menu")
    assert page.locator("header.site .menu-button").is_hidden()
    groups = menu.locator(":scope > li > details > summary").all_inner_texts()
    assert [g.strip() for g in groups] == GROUPS
    # One line: every part of the header sits on the brand's line, and the header is one line
    # high (the 12 links it replaced wrapped to two).
    brand = _box(header.locator(".brand"))
    middle = brand["y"] + brand["height"] / 2
    for part in _header_children(page) + [menu.locator(":scope > li").nth(i)
                                           for i in range(menu.locator(":scope > li").count())]:
        box = _box(part)
        assert abs(box["y"] + box["height"] / 2 - middle) < 6, (part, box, brand)
    assert _box(header)["height"] < 70
    # The groups' links are folded until a group is opened.
    returns = page.get_by_role("link", name="Summary returns")
    assert returns.is_hidden()
    # Keyboard: Tab from the brand reaches the first group; Enter opens it, Escape closes it.
    header.locator(".brand").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused.startswith("Reports"), focused
    page.keyboard.press("Enter")
    assert returns.is_visible()
    assert _box(returns)["y"] >= _box(header)["y"] + _box(header)["height"] - 2  # drops below
    page.keyboard.press("Escape")
    assert returns.is_hidden()
    # One group open at a time.
    header.locator("summary", has_text="Reports").click()
    header.locator("summary", has_text="Observatory").click()
    index = page.get_by_role("link", name="Access-denial index")
    assert index.is_visible() and returns.is_hidden()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "nav-1280.png"))
    index.click()
    page.wait_for_url(re.compile(r"/observatory/index/"))
    assert page.locator("h1").inner_text() == "Access-denial index"
    # Where one is: the group and the page are marked.
    header.locator("summary", has_text="Observatory").click()
    assert page.locator('header.site a[aria-current="page"]').inner_text() == \
        "Access-denial index"
    # French labels are longer: still one line.
    with page.expect_navigation():
        page.select_option("#language", "fr")
    assert _box(header)["height"] < 70


def test_on_a_phone_the_menu_button_opens_the_menu(new_page, live_server):
    make_user("alice", Role.FOCAL_POINT, "CU")
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    log_in(page, live_server, "alice")
    header = page.locator("header.site")
    height = _box(header)["height"]
    assert height < 844 / 3, height
    button = page.locator("header.site .menu-button")
    assert button.is_visible() and button.inner_text().strip().endswith("Menu")
    assert page.get_by_role("link", name="Summary returns").is_hidden()
    # The main action stays one tap away, outside the menu.
    assert page.locator("header.site").get_by_role("link", name="Report an incident").is_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "nav-390-closed.png"))
    button.click()
    # Open, the menu lies over the page below the header, every group unfolded, nothing wider
    # than the screen.
    for name in ("Reports", "Summary returns", "Council reports", "Action plan",
                 "Access-denial index", "Gateway", "API tokens"):
        link = page.locator("header.site nav").get_by_role("link", name=name, exact=True)
        assert link.is_visible(), name
        box = _box(link)
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (name, box)
        assert box["y"] >= height - 2, (name, box)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "nav-390.png"))
    page.locator("header.site nav").get_by_role("link", name="Summary returns").click()
    page.wait_for_url(re.compile(r"/returns/"))
    assert page.get_by_role("link", name="Summary returns").is_hidden()  # folded again


def test_action_plan_verdicts_are_coloured_by_meaning_with_their_word(new_page, live_server):
    from sentinelle.actionplan.models import Action, Indicator, ProgressUpdate

    make_user("charlie", Role.ANALYST)
    start, deadline = dt.date(2020, 1, 1), dt.date(2040, 1, 1)
    action = Action.objects.create(code="A1", clause="Res. 130", title="Workshops",
                                   responsible="BDT", start_date=start, end_date=deadline)
    done, behind = (Indicator.objects.create(
        action=action, code=code, name=name, unit="workshops", baseline=0, baseline_date=start,
        target=10, deadline=deadline) for code, name in (("A1.1", "Done"), ("A1.2", "Behind")))
    year = dt.date.today().year
    ProgressUpdate.objects.create(indicator=done, date=dt.date(year, 1, 1), value=10)
    ProgressUpdate.objects.create(indicator=behind, date=dt.date(year, 1, 1), value=0)
    page = new_page(viewport={"width": 1280, "height": 800})
    log_in(page, live_server, "charlie")
    page.goto("/action-plan/")
    achieved = page.locator('.verdict[data-status="achieved"]').first
    off_track = page.locator('.verdict[data-status="off-track"]').first
    assert achieved.inner_text().strip() == "achieved"
    assert off_track.inner_text().strip() == "off track"

    def colours(locator) -> tuple[str, str]:
        return tuple(locator.evaluate(
            "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]"))

    assert colours(achieved) == ("rgb(218, 251, 225)", "rgb(15, 83, 35)")  # green
    assert colours(off_track) == ("rgb(255, 235, 233)", "rgb(140, 10, 31)")  # red
    # Not colour alone: the symbol before the word differs too.
    symbol = "e => getComputedStyle(e, '::before').content"
    assert achieved.evaluate(symbol) != off_track.evaluate(symbol)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "verdicts.png"))
