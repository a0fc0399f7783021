"""Annual summary returns on the web: the CSV upload, its template and the form."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from sentinelle.incidents import summaries
from sentinelle.incidents.models import SummaryLine, SummaryReturn

GOOD = ("category,rsit_class,incidents,user_hours\n"
        "trust-security,availability,12,5400.5\n"
        "routing-disruption,intrusions,2,0\n")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(user, content: bytes | str, year: int = 2025, name: str = "return.csv"):
    data = content.encode() if isinstance(content, str) else content
    return client_for(user).post("/returns/upload/", {
        "year": year, "notes": "uploaded", "file": SimpleUploadedFile(name, data, "text/csv")})


def page_errors(response) -> str:
    html = response.content.decode()
    start = html.index('id="errors-file"')
    return html[start:html.index("</div>", start)]


def test_good_csv_creates_a_return(alice):
    response = upload(alice, GOOD)
    summary = SummaryReturn.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/returns/{summary.pk}/"
    assert (summary.state.alpha2, summary.year, summary.version) == ("CU", 2025, 1)
    assert summary.notes == "uploaded"
    lines = {(line.category.code, line.rsit_class.code): (line.incidents, line.user_hours)
             for line in summary.lines.all()}
    assert lines == {("trust-security", "availability"): (12, 5400.5),
                     ("routing-disruption", "intrusions"): (2, 0.0)}
    detail = client_for(alice).get(response["Location"])
    assert detail.status_code == 200
    assert "5,400.5" in detail.content.decode() or "5400.5" in detail.content.decode()


def test_csv_saved_by_excel_with_bom_and_crlf_is_accepted(alice):
    response = upload(alice, ("\ufeff" + GOOD.replace("\n", "\r\n")).encode("utf-8"))
    assert response.status_code == 302
    assert SummaryLine.objects.count() == 2


def test_second_upload_for_the_same_year_is_version_2(alice):
    upload(alice, GOOD)
    upload(alice, "category,rsit_class,incidents,user_hours\nother,fraud,1,1\n")
    first, second = SummaryReturn.objects.order_by("version")
    assert (first.version, second.version) == (1, 2)
    assert first.lines.count() == 2 and second.lines.count() == 1


def test_bad_line_names_its_number_and_nothing_is_written(alice):
    content = GOOD + "access-denial,availability,many,3\n"
    response = upload(alice, content)
    assert response.status_code == 200
    errors = page_errors(response)
    assert "Line 4" in errors
    assert "Line 2" not in errors and "Line 3" not in errors
    assert SummaryReturn.objects.count() == 0
    assert SummaryLine.objects.count() == 0


def test_every_bad_line_is_reported(alice):
    content = ("category,rsit_class,incidents,user_hours\n"
               "nope,availability,1,1\n"
               "trust-security,availability,2,2\n"
               "trust-security,nope,-1,1\n"
               "other,nope,1,1\n")
    errors = page_errors(upload(alice, content))
    assert "Line 2" in errors and "nope" in errors
    assert "Line 3" not in errors
    assert "Line 4" in errors and "Line 5" in errors
    assert SummaryReturn.objects.count() == 0


def test_repeated_line_is_refused(alice):
    content = GOOD + "trust-security,availability,1,1\n"
    response = upload(alice, content)
    assert "repeats" in page_errors(response)
    assert SummaryReturn.objects.count() == 0


@pytest.mark.parametrize("header", ["category,rsit,incidents,user_hours",
                                    "incidents;user_hours;category;rsit_class",
                                    ""])
def test_wrong_columns_are_refused(alice, header):
    response = upload(alice, header + "\ntrust-security,availability,1,1\n")
    assert response.status_code == 200
    assert "missing column" in page_errors(response)
    assert SummaryReturn.objects.count() == 0


def test_columns_in_another_order_are_accepted(alice):
    response = upload(alice, "incidents,user_hours,rsit_class,category\n4,8,fraud,other\n")
    assert response.status_code == 302
    line = SummaryLine.objects.get()
    assert (line.category.code, line.rsit_class.code, line.incidents) == ("other", "fraud", 4)


def test_non_utf8_is_refused(alice):
    content = "category,rsit_class,incidents,user_hours\nother,fraud,1,1\n# Côte\n"
    response = upload(alice, content.encode("latin-1"))
    assert response.status_code == 200
    assert "UTF-8" in page_errors(response)
    assert SummaryReturn.objects.count() == 0


@pytest.mark.parametrize("cell", ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "@HYPERLINK(\"x\")",
                                  "-2+3"])
def test_formula_injection_cell_is_an_unknown_category(alice, cell):
    row = '"' + cell.replace('"', '""') + '",availability,1,1\n'
    response = upload(alice, "category,rsit_class,incidents,user_hours\n" + row)
    assert response.status_code == 200
    errors = page_errors(response)
    assert "Line 2" in errors and "Unknown category" in errors
    assert SummaryReturn.objects.count() == 0


def test_oversize_csv_is_refused(alice, monkeypatch):
    monkeypatch.setattr(summaries, "MAX_CSV_BYTES", 40)
    response = upload(alice, GOOD)
    assert "larger than" in page_errors(response)
    assert SummaryReturn.objects.count() == 0


def test_template_download_is_a_csv_that_uploads_as_is(alice):
    response = Client().get("/returns/template.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    assert tuple(rows[0]) == summaries.CSV_COLUMNS
    assert len(rows) >= 2
    assert upload(alice, response.content).status_code == 302
    assert SummaryReturn.objects.get().lines.count() == len(rows) - 1


def test_only_focal_points_reach_the_upload(charlie, council):
    for user in (charlie, council):
        assert client_for(user).get("/returns/upload/").status_code == 403
        assert client_for(user).get("/returns/new/").status_code == 403
        assert upload(user, GOOD).status_code == 403
    assert SummaryReturn.objects.count() == 0


def test_anonymous_is_sent_to_sign_in(db):
    response = Client().post("/returns/upload/", {"year": 2025})
    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/")


def test_form_return(alice):
    data = {
        "year": 2024, "notes": "by form",
        "lines-TOTAL_FORMS": 3, "lines-INITIAL_FORMS": 0,
        "lines-MIN_NUM_FORMS": 0, "lines-MAX_NUM_FORMS": 200,
        "lines-0-category": "trust-security", "lines-0-rsit_class": "availability",
        "lines-0-incidents": 5, "lines-0-user_hours": 10,
        "lines-1-category": "other", "lines-1-rsit_class": "fraud",
        "lines-1-incidents": 1, "lines-1-user_hours": 0,
        "lines-2-user_hours": "0",  # a browser sends the pre-filled 0 of a blank row
    }
    response = client_for(alice).post("/returns/new/", data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    summary = SummaryReturn.objects.get()
    assert (summary.year, summary.notes, summary.total_incidents) == (2024, "by form", 6)


def test_blank_form_rows_prefill_zero_user_hours(alice):
    """What the two form tests post for blank rows is what the page makes a browser send."""
    html = client_for(alice).get("/returns/new/").content.decode()
    assert 'name="lines-2-user_hours" value="0"' in html


def test_form_return_with_no_line_is_refused(alice):
    data = {"year": 2024, "lines-TOTAL_FORMS": 3, "lines-INITIAL_FORMS": 0,
            "lines-MIN_NUM_FORMS": 0, "lines-MAX_NUM_FORMS": 200,
            **{f"lines-{n}-user_hours": "0" for n in range(3)}}
    response = client_for(alice).post("/returns/new/", data)
    assert response.status_code == 200
    assert "at least one line" in response.content.decode()
    assert SummaryReturn.objects.count() == 0


def test_a_forged_line_count_is_refused_without_building_more_than_200_lines(alice):
    """Found by the fuzz (http_bodies): a TOTAL_FORMS of 20 digits built and re-rendered
    Django's own cap of 1,200 lines (max_num + 1,000), each with its two selects: 6 s of work
    for a 474-byte post, a hang under load. A return has at most 200 lines: the page answers
    that, building no more than that."""
    data = {"year": 2026, "lines-TOTAL_FORMS": "9" * 20, "lines-INITIAL_FORMS": 0,
            "lines-0-category": "trust-security", "lines-0-rsit_class": "availability",
            "lines-0-incidents": 3, "lines-0-user_hours": 12.5}
    response = client_for(alice).post("/returns/new/", data)
    assert response.status_code == 200
    assert len(response.context["formset"].forms) <= 200
    html = response.content.decode()
    assert "at most 200" in html and 'name="lines-200-category"' not in html
    assert SummaryReturn.objects.count() == 0
