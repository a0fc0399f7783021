"""The campaign timeline in a real headless Chromium: axe-core finds no serious or critical
violation (the verdict colours' contrast, the table's headers), and the verdicts and the change
point read as text — what a screen reader says — not colour alone."""

from __future__ import annotations

import pytest

from sentinelle.core.models import Role
from sentinelle.observatory import services
from sentinelle.observatory.models import Campaign
from tests.browser import browser_fixtures
from tests.browser.browser_fixtures import log_in
from tests.browser.test_accessibility import assert_accessible, axe_page  # noqa: F401 - fixture
from tests.conftest import make_user
from tests.observatory.test_observatory_campaigns import campaign_value, round_bundle
from tests.observatory_helpers import result

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]
_reference_data_stays = browser_fixtures._reference_data_stays
browser = browser_fixtures.browser
new_page = browser_fixtures.new_page


def test_timeline_is_accessible_and_says_its_verdicts_in_words(axe_page, live_server,  # noqa: F811
                                                                tmp_path):
    alice = make_user("alice", Role.FOCAL_POINT, "CU")
    for number, verdict in ((1, "accessible"), (2, "accessible"), (3, "geoblocked"),
                            (4, "geoblocked")):
        path = round_bundle(tmp_path / f"r{number}.zip", campaign_value(number),
                            [result("https://hub.docker.com/", verdict),
                             result("https://news.example.org/", "inconclusive")])
        services.submit(alice, path)
    campaign = Campaign.objects.get()
    page = axe_page()
    log_in(page, live_server, "alice")
    assert_accessible(page, "/observatory/campaigns/")
    assert_accessible(page, f"/observatory/campaigns/{campaign.pk}/")
    row = page.locator("table.campaign-timeline tr", has_text="hub.docker.com")
    assert row.locator("td").all_inner_texts() == [
        "accessible", "accessible", "geoblocked\nchange (was accessible)", "geoblocked"]
    # The colour only repeats the text: a denied cell and an accessible one differ in colour.
    colours = row.locator("td").evaluate_all(
        "cells => cells.map(c => getComputedStyle(c).backgroundColor)")
    assert colours[0] == colours[1] != colours[2] == colours[3]
