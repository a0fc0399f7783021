"""The analyst's report page (issue 12, point 7): the actions come first, and the thread opens
with the request for information and its answer. The y positions in a real browser are measured
in tests/browser/test_browser_analyst_queue.py."""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone

from sentinelle.incidents import services
from sentinelle.incidents.models import Incident
from tests.conftest import file_report, page


def _thread(text: str) -> list[str]:
    body = text.split('<div class="thread">', 1)[1].split("</div>\n<form", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", a)).strip()
            for a in re.findall(r"<article.*?</article>", body, re.S)]


def test_the_secretariat_s_actions_come_before_the_report(client, alice, charlie):
    report = file_report(alice)
    client.force_login(charlie)
    text = page(client.get(f"/incidents/{report.pk}/"))
    actions = text.index('id="actions"')
    assert actions < text.index("Narrative") < text.index('id="evidence"')
    card = text[actions:text.index("</section>", actions)]
    buttons = re.findall(r'<button type="submit" name="to_status" value="([^"]+)"[^>]*>([^<]+)<',
                         card)
    assert buttons == [("acknowledged", "Acknowledge"), ("info-requested", "Request information"),
                       ("duplicate", "Mark as duplicate")]
    # Pressing Enter in a field applies no action: the form's default button is disabled.
    assert re.search(rf'<form method="post" action="/incidents/{report.pk}/status/">\s*'
                     r'<input[^>]*csrfmiddlewaretoken[^>]*>\s*<button type="submit" disabled',
                     card)


def test_each_action_button_applies_its_status(client, alice, charlie):
    report = file_report(alice)
    client.force_login(charlie)
    client.post(f"/incidents/{report.pk}/status/", {"to_status": "acknowledged", "note": "",
                                                    "duplicate_of": ""})
    text = page(client.get(f"/incidents/{report.pk}/"))
    assert re.search(r'id="status">Acknowledged<', text)
    card = text[text.index('id="actions"'):]
    assert ">Start the analysis<" in card and ">Close the report<" in card


def test_the_focal_point_sees_no_secretariat_actions(client, alice):
    report = file_report(alice)
    client.force_login(alice)
    text = page(client.get(f"/incidents/{report.pk}/"))
    assert 'id="actions"' not in text
    assert "Withdraw this report" in text


def test_the_thread_opens_with_the_request_and_its_answer(client, alice, charlie):
    report = file_report(alice)
    services.post_message(report, alice, "First note from Cuba")
    services.change_status(report, charlie, "acknowledged")
    services.change_status(report, charlie, "info-requested", note="Send the router logs")
    report.refresh_from_db()
    services.post_message(report, alice, "Logs: AS64500 withdrew 10.0.0.0/8")
    services.post_message(report, charlie, "Thank you")
    for user in (charlie, alice):
        client.force_login(user)
        thread = _thread(page(client.get(f"/incidents/{report.pk}/")))
        assert [m.split(" · ")[0] for m in thread] == [
            "Request for information", "Answer", "Message", "Message"]
        assert "Send the router logs" in thread[0] and "AS64500" in thread[1]
        assert "First note from Cuba" in thread[2] and "Thank you" in thread[3]


def test_the_latest_request_comes_first(client, alice, charlie):
    report = file_report(alice)
    services.change_status(report, charlie, "info-requested", note="Which prefix?")
    report.refresh_from_db()
    services.post_message(report, alice, "203.0.113.0/24")
    services.change_status(report, charlie, "info-requested", note="Since when?")
    client.force_login(charlie)
    thread = _thread(page(client.get(f"/incidents/{report.pk}/")))
    assert ["Since when?" in thread[0], "Which prefix?" in thread[1],
            "203.0.113.0/24" in thread[2]] == [True, True, True]


def test_the_actions_say_when_the_report_is_overdue(client, alice, bob, charlie):
    report = file_report(alice, category="routing-disruption", rsit="availability:outage")
    Incident.objects.filter(pk=report.pk).update(
        submitted_at=timezone.now() - dt.timedelta(hours=10))
    client.force_login(charlie)
    text = page(client.get(f"/incidents/{report.pk}/"))
    card = text[text.index('id="actions"'):text.index("</section>", text.index('id="actions"'))]
    assert '<strong class="overdue">Acknowledgement overdue by 2 h</strong>' in card
    client.force_login(alice)
    assert "overdue" not in page(client.get(f"/incidents/{report.pk}/"))
    client.force_login(bob)  # an outsider to Cuba's AMBER report
    assert client.get(f"/incidents/{report.pk}/").status_code == 404
