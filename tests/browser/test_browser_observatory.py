"""The observatory in a real headless Chromium: a focal point uploads a signed evidence bundle,
the job makes a draft report that lists the bundle as evidence, the page reads right to left in
Arabic, and another State's focal point gets 404 for the draft.

The fixtures are shared with tests/browser/test_browser_journey.py
(tests/browser/browser_fixtures.py); tasks run immediately in tests (tests/conftest.py), so the
upload's job has finished when its page opens.
"""

from __future__ import annotations

import hashlib
import re

import pytest
from django.conf import settings

from sentinelle.core.models import Role
from sentinelle.incidents.models import Incident, Status
from sentinelle.observatory.models import AccessObservation
from tests.browser import browser_fixtures
from tests.browser.browser_fixtures import ARTIFACTS, log_in, stylesheet_applied
from tests.conftest import make_user
from tests.observatory_helpers import access_bundle

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]
_reference_data_stays = browser_fixtures._reference_data_stays
browser = browser_fixtures.browser
new_page = browser_fixtures.new_page


def test_focal_point_uploads_a_bundle_and_reads_the_draft_then_in_arabic(
        new_page, live_server, tmp_path):
    make_user("alice", Role.FOCAL_POINT, "CU")
    make_user("bob", Role.FOCAL_POINT, "CH")
    bundle = access_bundle(tmp_path / "cu-probe.zip")
    sha256 = hashlib.sha256(bundle.read_bytes()).hexdigest()

    # 1. Cuba's focal point opens the observatory and uploads the signed bundle.
    focal = new_page()
    log_in(focal, live_server, "alice")
    focal.goto("/observatory/")
    assert focal.locator("h1").inner_text() == "Observatory"
    upload = focal.locator("section.card form")
    upload.locator("input[type=file]").set_input_files(str(bundle))
    upload.locator("select[name=expect]").select_option("probe")
    upload.locator("button[type=submit]").click()

    # 2. The job page: finished (tasks run immediately in tests), with a link to the draft.
    focal.wait_for_url(re.compile(r"/jobs/\d+/$"))
    assert focal.locator("#job-status .status").get_attribute("data-status") == "succeeded"
    incident = Incident.objects.get()
    assert incident.status == Status.DRAFT and incident.category.code == "access-denial"
    assert AccessObservation.objects.filter(incident=incident).count() == 5
    focal.get_by_role("link", name=f"Open report {incident.reference}").click()
    focal.wait_for_url(f"{live_server.url}{incident.get_absolute_url()}")
    draft_url = focal.url

    # 3. The draft lists the bundle as evidence, with the file's own SHA-256.
    row = focal.locator("#evidence + table tbody tr").filter(has_text="cu-probe.zip")
    assert row.count() == 1
    assert row.locator("code.hash").inner_text().strip() == sha256
    assert row.locator("td.num").inner_text().strip() == str(bundle.stat().st_size)
    assert focal.get_by_role("link", name=f"Evidence bundle of report {incident.reference}") \
        .count() == 1
    assert "hub.docker.com" in focal.locator("main").inner_text()
    assert stylesheet_applied(focal)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    focal.screenshot(path=str(ARTIFACTS / "observatory-draft.png"), full_page=True)

    # 4. In Arabic the observatory reads right to left, with translated headings.
    if "ar" in dict(settings.LANGUAGES):
        with focal.expect_navigation():
            focal.select_option("#language", "ar")
        focal.goto("/observatory/")
        html = focal.locator("html")
        assert html.get_attribute("lang") == "ar" and html.get_attribute("dir") == "rtl"
        assert focal.locator("h1").inner_text() == "المرصد"
        headings = focal.locator("h2").all_inner_texts()
        assert "إرسال حزمة أدلة" in headings, headings
        assert "Submit an evidence bundle" not in headings
        assert incident.reference in focal.locator("main").inner_text()
        focal.screenshot(path=str(ARTIFACTS / "observatory-ar.png"), full_page=True)

    # 5. Switzerland's focal point gets 404 for Cuba's draft and sees none of it listed.
    outsider = new_page()
    log_in(outsider, live_server, "bob")
    response = outsider.goto(draft_url)
    assert response is not None and response.status == 404
    outsider.goto("/observatory/")
    assert incident.reference not in outsider.locator("main").inner_text()
