"""What a newcomer tripped on walking issue 12's journeys in Chromium (the demo, every role):
each test here failed on the code as it was found."""

from __future__ import annotations

import re

from sentinelle.incidents import services
from sentinelle.incidents.models import Status
from tests.conftest import file_report, page
from tests.incidents.test_focal_form import form_data, preview_section


def fact(html_text: str, label: str) -> str:
    """The value shown beside `label` in a report's facts list."""
    match = re.search(rf"<dt>{re.escape(label)}</dt><dd>(.*?)</dd>", html_text, re.S)
    assert match, f"no {label!r} in the facts"
    return match.group(1).strip()


def test_unknown_figures_show_a_dash_not_a_blank_on_preview(client, alice):
    # A blank beside "Users affected" reads as a page that failed to load a value; every other
    # unknown fact shows "—".
    client.force_login(alice)
    response = client.post("/incidents/new/", {**form_data(users_affected="", ended_at=""),
                                               "preview": ""})
    preview = preview_section(response)
    assert fact(preview, "Users affected") == "—"
    assert fact(preview, "Duration (hours)") == "—"
    assert fact(preview, "User-hours") == "—"


def test_unknown_and_known_figures_on_the_report_page_and_list(client, alice):
    unknown = file_report(alice, users_affected=None, ended_at=None, title="Unknown reach")
    known = file_report(alice, users_affected=1500, title="Known reach")
    client.force_login(alice)
    text = page(client.get(f"/incidents/{unknown.pk}/"))
    assert fact(text, "Users affected") == "—"
    assert fact(text, "User-hours") == "—"
    text = page(client.get(f"/incidents/{known.pk}/"))
    assert fact(text, "Users affected") == "1,500"
    assert fact(text, "Duration (hours)") == "4"
    assert fact(text, "User-hours") == "6,000"
    rows = page(client.get("/incidents/"))
    unknown_row = re.search(r"Unknown reach.*?</tr>", rows, re.S).group(0)
    assert re.search(r'<td class="num">—</td>', unknown_row)


def test_the_focal_point_sees_the_pending_request_on_the_first_screen(client, alice, charlie):
    # The status said "Information requested", but what was asked sat under the facts,
    # indicators and evidence, two screens down: the newcomer did not find it.
    incident = file_report(alice)
    services.change_status(incident, charlie, Status.INFO_REQUESTED,
                           note="Send the resolver logs for 08:00-10:00 UTC.")
    client.force_login(alice)
    text = page(client.get(f"/incidents/{incident.pk}/"))
    card = re.search(r'<section class="card" id="pending-request".*?</section>', text, re.S)
    assert card, "no pending request at the top"
    assert "The Secretariat asks for information" in card.group(0)
    assert "Send the resolver logs for 08:00-10:00 UTC." in card.group(0)
    assert 'href="#thread"' in card.group(0)
    assert text.index('id="pending-request"') < text.index("<dl class=\"facts\">")
    # Answered: the card goes.
    client.post(f"/incidents/{incident.pk}/messages/", {"body": "Here they are."})
    assert 'id="pending-request"' not in page(client.get(f"/incidents/{incident.pk}/"))
    # The Secretariat has its own actions card; the card is the State's.
    services.change_status(incident, charlie, Status.INFO_REQUESTED, note="And the traces.")
    client.force_login(charlie)
    assert 'id="pending-request"' not in page(client.get(f"/incidents/{incident.pk}/"))


def test_council_reports_list_names_the_language_not_its_code(client, council, charlie):
    # The Council reader saw "zh-hans" and "ar" in the Language column.
    from sentinelle.reports.models import CouncilReport

    for code, name in (("zh-hans", "C27-70-C.pdf"), ("ar", "C27-70-A.pdf")):
        CouncilReport.objects.create(year=2026, language=code, format="pdf", created_by=charlie,
                                     document="reports/x", document_name=name,
                                     annex="reports/y", annex_name=name + ".csv")
    client.force_login(council)
    text = page(client.get("/reports/"))
    cells = re.findall(r"<tr><td><a [^>]*>(C27-70-[AC])\.pdf</a></td><td>2026</td><td>(.*?)</td>",
                       text)
    assert dict(cells) == {"C27-70-C": "Simplified Chinese", "C27-70-A": "Arabic"}


def test_a_long_chart_label_is_shortened_at_a_word_with_the_whole_label_on_hover():
    # The public statistics read "Practices undermining trust and securi" and "Denial of access
    # to public Internet re": cut mid-word, with nothing saying so.
    from sentinelle.analysis.charts import bar_chart

    label = "Practices undermining trust and security in ICTs"
    svg = bar_chart([{"label": label, "incidents": 68}, {"label": "Other", "incidents": 67}],
                    "By category", rtl=False)
    texts = re.findall(r'<text [^>]*text-anchor="end">(.*?)</text>', svg)
    assert texts[0] == f"<title>{label}</title>Practices undermining trust and…"
    assert texts[1] == "Other"


def test_the_analyst_is_told_which_files_came_with_the_answer(client, alice, charlie, mailoutbox,
                                                            django_capture_on_commit_callbacks):
    # The answer carried the resolver logs; the e-mail quoted the text only, so the analyst
    # could not tell from it that there was anything to open.
    import hashlib

    from django.core.files.uploadedfile import SimpleUploadedFile

    incident = file_report(alice)
    services.change_status(incident, charlie, Status.INFO_REQUESTED, note="Send the logs.")
    mailoutbox.clear()
    logs = b"08:00 SERVFAIL\n"
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/incidents/{incident.pk}/messages/",
                    {"body": "Here they are.", "files": [SimpleUploadedFile("resolver.log", logs)]})
    [mail] = [m for m in mailoutbox if m.to == [charlie.email]]
    assert "Here they are." in mail.body
    assert "resolver.log" in mail.body
    assert hashlib.sha256(logs).hexdigest() in mail.body
    assert "15 bytes" in mail.body


def test_the_public_home_leads_to_the_gateway(client, db):
    # A visitor looking for the cybersecurity gateway found it only as "Gateway" in a header
    # group called "Exchange"; the home page linked to the statistics only.
    text = page(client.get("/"))
    main = text[text.index("<main"):]
    assert re.search(r'<a href="/gateway/">Cybersecurity gateway</a>', main)
    assert re.search(r'<a href="/analysis/public/">Public statistics</a>', main)
