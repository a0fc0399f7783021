"""Public visitor (issue 12): the statistics shown on every public page — home, public statistics,
the gateway's statistics and the statistics API — are the same for the same year, as a person
reads them on the page."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.browser import browser_fixtures
from tests.browser.browser_fixtures import ARTIFACTS

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]
_reference_data_stays = browser_fixtures._reference_data_stays
browser = browser_fixtures.browser
new_page = browser_fixtures.new_page


def table_rows(page, table) -> list[list[str]]:
    """The visible text of each body row's cells."""
    return [[cell.inner_text().strip() for cell in row.locator("td").all()]
            for row in table.locator("tbody tr").all()]


def section_table(page, heading: str):
    return page.locator("section", has=page.get_by_role("heading", name=heading, exact=True)) \
        .locator("table")


def test_a_visitor_reads_the_same_figures_on_every_public_page(new_page):
    year = timezone.now().year
    call_command("seed_demo", "--reports", "60", "--year", str(year), stdout=io.StringIO())
    call_command("seed_gateway", stdout=io.StringIO())
    page = new_page()

    # Home: incidents by category of this year.
    page.goto("/")
    heading = page.get_by_role("heading", name=f"Incidents by category, {year}")
    assert heading.is_visible()
    home = {label: incidents for label, incidents, _hours in
            table_rows(page, page.locator("h2 + table").first)}
    assert len(home) >= 4 and sum(int(n) for n in home.values() if n.isdigit()) > 20

    # The statistics API, read as a visitor reads it in the browser (the browsable API shows
    # the response's headers, then its JSON body).
    page.goto(f"/api/v1/statistics/?year={year}")
    shown = page.locator(".response-info pre").inner_text()
    assert "HTTP 200 OK" in shown
    api = json.loads(shown[shown.index("{"):])
    assert {r["label"]: str(r["incidents"]) for r in api["by_category"]} == home
    totals = api["totals"]
    k = api["small_count_threshold"]
    api_regions = {r["label"]: f"<{k}" if r["incidents"] is None else str(r["incidents"])
                   for r in api["by_itu_d_region"]}

    # Public statistics, reached from the home page's link, for the same year.
    page.goto("/")
    page.get_by_role("link", name="Public statistics").click()
    page.wait_for_url("**/analysis/public/**")
    assert page.locator("select[name=year]").input_value() == str(year)
    table = section_table(page, "By category")
    header = table.locator("thead th").all_inner_texts()
    label, incidents, user_hours = (header.index(name) for name in
                                    ("Label", "Incidents", "User-hours"))
    rows = table_rows(page, table)
    assert {r[label]: r[incidents] for r in rows} == home
    hours = {r[label]: r[user_hours] for r in rows}
    table = section_table(page, "By ITU-D region")
    header = table.locator("thead th").all_inner_texts()
    label, incidents = header.index("Label"), header.index("Incidents")
    regions = {r[label]: r[incidents] for r in table_rows(page, table)}
    assert regions == api_regions
    summary = dict(table_rows(page, section_table(page, "Summary")))
    assert summary["Incidents"] == f"{totals['incidents']:,}"
    assert summary["States reporting"] == str(totals["states_reporting"])
    page.goto("/")
    assert hours == {label: h for label, _n, h in
                     table_rows(page, page.locator("h2 + table").first)}

    # The gateway's public statistics: the year's totals and the same table.
    page.goto(f"/gateway/statistics/?year={year}")
    facts = dict(zip(page.locator("dl dt").all_inner_texts(),
                     page.locator("dl dd").all_inner_texts(), strict=False))
    assert facts["Incidents"] == str(totals["incidents"])
    assert facts["States reporting"] == str(totals["states_reporting"])
    gateway = {label: n for label, n in table_rows(
        page, page.locator("table", has=page.locator("caption", has_text="Incidents by category")))}
    assert gateway == home
    assert {label: n for label, n in table_rows(
        page, page.locator("table", has=page.locator("caption", has_text="Incidents by ITU-D "
                                                                          "region")))} == regions

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "public-statistics.png"), full_page=True)
