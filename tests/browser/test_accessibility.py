"""Accessibility in a real headless Chromium: axe-core finds no serious or critical violation.

axe-core is the npm package pinned in package.json (`npm ci` installs it into node_modules/;
.ci/run does). Each page is loaded by Playwright, axe.min.js is injected and `axe.run()` checks
the whole document (WCAG 2.x A/AA rules and axe's best practices). Keyboard navigation and a
visible focus indicator are checked directly.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from sentinelle.core.models import MemberState, Role
from tests.browser import browser_fixtures
from tests.browser.browser_fixtures import gateway_missing, log_in
from tests.conftest import file_report, make_user
from tests.paths import ROOT

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]
_reference_data_stays = browser_fixtures._reference_data_stays
browser = browser_fixtures.browser
new_page = browser_fixtures.new_page

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}


@pytest.fixture
def axe_page(new_page):
    if not AXE.exists():
        pytest.skip(f"axe-core not installed ({AXE} missing): run `npm ci` in the project root")
    return new_page


def axe_violations(page) -> list[dict]:
    """Serious and critical axe-core violations on the page as loaded."""
    # Evaluated through the DevTools protocol, not added as an inline <script>: the page's
    # Content-Security-Policy (script-src 'self') refuses inline scripts, and must stay on.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:8]:
            lines.append(f"    {' '.join(map(str, node['target']))}: "
                         f"{node.get('failureSummary', '').splitlines()[-1:]}")
    return "\n".join(lines)


def assert_accessible(page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.ok, f"{url} answered {response and response.status}"
    page.wait_for_load_state("networkidle")
    violations = axe_violations(page)
    assert not violations, f"axe-core on {url}:\n{describe(violations)}"


# Who looks at which page: anonymous visitors, a focal point of Cuba or a Secretariat analyst.
PAGES = [
    ("login", None, "/account/login/"),
    ("home-anonymous", None, "/"),
    ("home-focal-point", "alice", "/"),
    ("home-analyst", "charlie", "/"),
    ("incident-form", "alice", "/incidents/new/"),
    ("incident-list", "alice", "/incidents/"),
    ("incident-detail-focal-point", "alice", "incident-detail"),
    ("incident-detail-analyst", "charlie", "incident-detail"),
    ("reports", "charlie", "/reports/"),
    ("analysis", "charlie", "/analysis/"),
    ("analysis-queue", "charlie", "/analysis/queue/?sort=-age"),
    ("handling-times", "charlie", "/analysis/handling-times/?category=access-denial"),
    ("analysis-public", None, "/analysis/public/"),
    ("exchange", "charlie", "/exchange/"),
    # The public gateway (issue 5).
    ("gateway-home", None, "/gateway/"),
    ("gateway-list", None, "/gateway/initiatives/"),
    ("gateway-detail", None, "gateway-detail"),
    ("gateway-detail-focal-point", "alice", "gateway-detail"),
    ("gateway-form", "alice", "/gateway/initiatives/new/"),
    ("gateway-search", None, "/gateway/search/?q=exercise"),
    ("gateway-moderation", "charlie", "/gateway/moderation/"),
]


def published_initiative():
    """A published initiative of Cuba's, written straight to the table (no moderation here)."""
    from sentinelle.gateway.models import Initiative

    now = timezone.now()
    entry = Initiative.objects.create(
        state=MemberState.objects.get(alpha2="CU"), title="Caribbean CSIRT exercise",
        scope="regional", description="A joint incident-response exercise.",
        links="https://example.org/exercise", themes="incident response, exercises",
        status="published", reviewed_at=now, published_at=now)
    entry.states.set(MemberState.objects.filter(alpha2__in=["CU", "JM"]))
    return entry


@pytest.mark.parametrize(("who", "url"), [(who, url) for _name, who, url in PAGES],
                         ids=[name for name, _who, _url in PAGES])
def test_page_has_no_serious_axe_violation(axe_page, live_server, who, url):
    if url.startswith(("/gateway/", "gateway-")) and (reason := gateway_missing()):
        pytest.skip(reason)
    alice = make_user("alice", Role.FOCAL_POINT, "CU")
    bob = make_user("bob", Role.FOCAL_POINT, "CH")
    make_user("charlie", Role.ANALYST)
    # Reports under every TLP label (the badges' contrast), from two States (the charts).
    report = file_report(alice, tlp="amber")
    for user, tlp in ((alice, "clear"), (alice, "green"), (alice, "red"), (bob, "amber+strict")):
        file_report(user, tlp=tlp, title=f"Report under TLP:{tlp.upper()}")
    if url == "incident-detail":
        url = reverse("incident-detail", args=[report.pk])
    elif url.startswith(("/gateway/", "gateway-")):
        entry = published_initiative()
        url = entry.get_absolute_url() if url == "gateway-detail" else url
    page = axe_page()
    if who:
        log_in(page, live_server, who)
    assert_accessible(page, url)


def test_keyboard_reaches_the_report_form_with_a_visible_focus(axe_page, live_server):
    make_user("alice", Role.FOCAL_POINT, "CU")
    page = axe_page()
    log_in(page, live_server, "alice")
    page.goto("/incidents/new/")
    # The first Tab lands on the skip link, which is shown when focused and leads to <main>.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.locator("a.skip").is_visible()
    page.keyboard.press("Enter")
    first_field = page.locator("#incident-form").locator("input:not([type=hidden]), select, "
                                                         "textarea").first
    field_id = first_field.get_attribute("id")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == field_id:
            break
    else:
        pytest.fail(f"Tab never reached the form's first field #{field_id}")
    outline = page.evaluate("""() => {
        const style = getComputedStyle(document.activeElement);
        return {style: style.outlineStyle, width: parseFloat(style.outlineWidth)};
    }""")
    assert outline["style"] != "none" and outline["width"] >= 2, outline
    assert page.evaluate("document.activeElement.matches(':focus-visible')")
    # Typing goes into the focused field: the form is usable without a mouse.
    page.keyboard.type("Defacement")
    assert first_field.input_value() == "Defacement"
    assert re.search(r"/incidents/new/(#content)?$", page.url)


@pytest.mark.parametrize("url", ["/", "/account/login/", "/gateway/initiatives/"])
def test_arabic_pages_have_no_serious_axe_violation(axe_page, live_server, url):
    """Right to left, in Arabic: the language cookie set as the header's switcher sets it."""
    from django.conf import settings

    if "ar" not in dict(settings.LANGUAGES):
        pytest.skip("Arabic not enabled yet")
    if url.startswith("/gateway/") and (reason := gateway_missing()):
        pytest.skip(reason)
    if url.startswith("/gateway/"):
        published_initiative()
    page = axe_page()
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "ar",
                               "url": live_server.url}])
    assert_accessible(page, url)
    assert page.locator("html").get_attribute("dir") == "rtl"
