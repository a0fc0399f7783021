"""Issue 12, points 12 and 13 in a real browser: the focal point submits and keeps the receipt;
the analyst asks for information; the answer carries a file the analyst finds in the thread.

The fixtures (and why Playwright starts per test) are in tests/browser/browser_fixtures.py.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess  # noqa: S404 - runs pdftotext and pdftoppm with fixed arguments

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sentinelle.core.models import Role
from sentinelle.incidents import services
from tests.browser import browser_fixtures
from tests.browser.browser_fixtures import ARTIFACTS, log_in
from tests.conftest import file_report, make_user

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]
_reference_data_stays = browser_fixtures._reference_data_stays
browser = browser_fixtures.browser
new_page = browser_fixtures.new_page

CAPTURE = b"pcap of the attack\n" + bytes(range(256))
LOGS = b"2026-03-01 09:40:02 DROP 203.0.113.7 -> 198.51.100.10:443\n" * 20


def test_submit_keep_the_receipt_then_answer_with_a_file(new_page, live_server, tmp_path):
    alice = make_user("alice", Role.FOCAL_POINT, "CU")
    make_user("charlie", Role.ANALYST)
    draft = file_report(alice, submit=False)
    services.attach_evidence(draft, alice, SimpleUploadedFile("capture.pcap", CAPTURE))

    # 1. Alice opens her draft and submits it: she sees the confirmation and the receipt.
    focal = new_page()
    log_in(focal, live_server, "alice")
    focal.goto(f"/incidents/{draft.pk}/")
    focal.get_by_role("button", name="Submit to the Secretariat").click()
    focal.wait_for_load_state()
    draft.refresh_from_db()
    when = draft.submitted_at.strftime("%Y-%m-%d %H:%M:%S")
    assert focal.locator("#status").inner_text().strip() == "Submitted"
    assert (f"The report was submitted to the Secretariat: {draft.reference}, version 1, "
            f"on {when} UTC.") in focal.locator(".messages").inner_text()
    receipt_box = focal.locator("#receipt")
    assert receipt_box.is_visible()
    receipt = draft.receipts.get()
    assert f"Version 1 submitted to the Secretariat on {when} UTC by alice." \
        in receipt_box.inner_text()
    assert receipt.content_sha256 in receipt_box.inner_text()
    # The confirmation and the receipt box are at the top, above the report's facts.
    facts = focal.locator("dl.facts").first.bounding_box()
    assert focal.locator(".messages").bounding_box()["y"] < receipt_box.bounding_box()["y"] \
        < facts["y"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    focal.screenshot(path=str(ARTIFACTS / "submit-receipt-confirmation.png"))

    # 2. She downloads the receipt PDF: it names the version's and the file's SHA-256.
    with focal.expect_download() as download_info:
        focal.get_by_role("link", name="Download the receipt (PDF)").click()
    download = download_info.value
    assert download.suggested_filename == f"receipt-{draft.reference}-v1.pdf"
    pdf_path = tmp_path / download.suggested_filename
    download.save_as(pdf_path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"],  # noqa: S607
                              capture_output=True, check=True).stdout.decode()
        assert draft.reference in text and when in text
        assert receipt.content_sha256 in text
        assert hashlib.sha256(CAPTURE).hexdigest() in text and "capture.pcap" in text
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(pdf_path),  # noqa: S607
                        str(ARTIFACTS / "submit-receipt-pdf")], check=True)

    # 3. The analyst asks for information.
    analyst = new_page()
    log_in(analyst, live_server, "charlie")
    analyst.goto(f"/incidents/{draft.pk}/")
    analyst.fill("#id_note", "Please send the firewall logs of 1 March.")
    analyst.get_by_role("button", name="Request information").click()
    analyst.wait_for_load_state()
    assert analyst.locator("#status").inner_text().strip() == "Information requested"

    # 4. Alice answers with the logs as a file.
    focal.goto(f"/incidents/{draft.pk}/")
    focal.fill("#id_body", "The logs are attached.")
    focal.set_input_files("input[name=files]", files=[
        {"name": "firewall.log", "mimeType": "text/plain", "buffer": LOGS}])
    focal.get_by_role("button", name="Send the information").click()
    focal.wait_for_url(re.compile(r"/incidents/\d+/#thread$"))
    assert focal.locator("#status").inner_text().strip() == "Under analysis"

    # 5. The analyst sees the file under the answer in the thread, with its hash, and gets it.
    analyst.reload()
    answer = analyst.locator(".thread article.answer")
    assert "The logs are attached." in answer.inner_text()
    link = answer.get_by_role("link", name="firewall.log")
    assert link.is_visible()
    assert hashlib.sha256(LOGS).hexdigest() in answer.inner_text()
    assert f"{len(LOGS)} bytes" in answer.inner_text()
    with analyst.expect_download() as download_info:
        link.click()
    saved = tmp_path / "firewall.log"
    download_info.value.save_as(saved)
    assert saved.read_bytes() == LOGS
    answer.scroll_into_view_if_needed()
    analyst.screenshot(path=str(ARTIFACTS / "submit-receipt.png"), full_page=True)
