"""Issue 12, point 2 in a real browser: a Council member signs in, opens the annual report in
Arabic and reads its charts as Arabic text, mirrored for right-to-left, then downloads the PDF.

The fixtures (and why Playwright starts per test) are in tests/browser/browser_fixtures.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess  # noqa: S404 - runs pdftotext with fixed arguments

import pytest

from sentinelle.core import jobs
from sentinelle.reports import content
from sentinelle.reports.tasks import KIND
from tests.browser import browser_fixtures
from tests.browser.browser_fixtures import ARTIFACTS, log_in
from tests.reports import test_report
from tests.reports.test_report import options

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]
_reference_data_stays = browser_fixtures._reference_data_stays
browser = browser_fixtures.browser
new_page = browser_fixtures.new_page
year_data = test_report.year_data


def box(locator) -> dict:
    locator.scroll_into_view_if_needed()
    return locator.bounding_box()


def test_council_member_reads_the_arabic_report_and_its_charts(
        new_page, live_server, settings, tmp_path, year_data, charlie, council):
    settings.REQUIRE_2FA = True
    for fmt in ("html", "pdf"):
        jobs.start(KIND, charlie, options(lang="ar", fmt=fmt).as_params())
    rsit = next(t for t in content.build(options(lang="ar")).tables()
                if t.key == "by_rsit_class")
    reported = next(str(row[0]) for row in rsit.rows if row[1].text != "0")

    # 1. The Council member signs in and lists the reports. Two-factor sign-in is on, but it
    # applies to focal points and the Secretariat only (README, "Two-factor sign-in"): Council
    # members read public aggregates, so the password takes her straight to the site.
    page = new_page()
    log_in(page, live_server, council.username)
    page.goto("/reports/")
    listing = page.locator("main table").inner_text()
    assert "C27-70-A.html" in listing and "C27-70-A.pdf" in listing

    # 2. She opens the Arabic HTML report: a right-to-left page whose charts are Arabic text.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="C27-70-A.html").click()
    report = tmp_path / "C27-70-A.html"
    download_info.value.save_as(report)
    reader = new_page()
    reader.goto(report.as_uri())
    assert reader.locator("html").get_attribute("dir") == "rtl"
    assert reader.locator("html").get_attribute("lang") == "ar"
    chart = reader.locator("#chart-rsit")
    assert chart.locator(".chart-label").all_inner_texts() == [reported]
    assert chart.locator(".chart-axis-title").inner_text().strip() == "الحوادث"
    assert chart.locator("figcaption").inner_text().strip() == "الحوادث حسب فئة RSIT"
    assert chart.locator(".chart-value").inner_text().strip() == "9"

    # Mirrored: the category on the right, its bar growing leftwards from it, the value beyond
    # the bar's end, nothing overlapping; the value axis runs from 0 on the right.
    label = box(chart.locator(".chart-label"))
    bar = box(chart.locator(".chart-bar"))
    value = box(chart.locator(".chart-value"))
    assert bar["width"] > 50
    assert bar["x"] + bar["width"] <= label["x"] + 1
    assert value["x"] + value["width"] <= bar["x"] + 1
    ticks = [(t.inner_text(), box(t)["x"]) for t in chart.locator(".chart-ticks span").all()]
    assert ticks[0][0] == "0" and len(ticks) > 2
    assert [x for _text, x in ticks] == sorted((x for _text, x in ticks), reverse=True)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chart.locator("xpath=..").screenshot(path=str(ARTIFACTS / "council-report-ar.png"))

    # 3. In Arabic, the statistics page's SVG charts are mirrored the same way.
    page.context.add_cookies([{"name": "django_language", "value": "ar",
                               "url": live_server.url}])
    page.goto("/analysis/")
    assert page.locator("html").get_attribute("dir") == "rtl"
    svg = page.locator("main svg").first
    bars = [box(rect) for rect in svg.locator("rect").all()]
    labels = [box(text) for text in svg.locator('text[text-anchor="end"]').all()]
    assert bars and labels
    assert min(b["x"] for b in labels) >= max(b["x"] + b["width"] for b in bars) - 1
    page.goto("/reports/")

    # 4. She downloads the PDF of the same report.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="C27-70-A.pdf").click()
    pdf = tmp_path / "C27-70-A.pdf"
    download_info.value.save_as(pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    pdftotext = shutil.which("pdftotext")
    if pdftotext:
        text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        text = re.sub("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", text)
        assert "الحوادث حسب فئة RSIT" in text and "ثداوحلا" not in text
