"""The routing monitor's page (/observatory/routing/): what a State's focal point, the
Secretariat and everybody else see, the watch list form and its download."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import translation

from sentinelle.core.models import AuditEntry, MemberState
from sentinelle.observatory import live
from sentinelle.observatory.models import RoutingWatch
from sentinelle.observatory.routing.live.events import AlertEvent
from tests.conftest import page
from tests.observatory.test_routing_events_api import T0, event

URL = "/observatory/routing/"
DOWNLOAD = "/observatory/routing/watch.yaml"
WATCH = """states:
  CU:
    asns: [27725]
    prefixes:
      - {prefix: 152.206.0.0/16, origins: [27725], max_length: 24}
      - 169.158.0.0/16
"""


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def record(user, ev: AlertEvent) -> None:
    live.record_event(user, ev.to_dict(), key=ev.idempotency_key)


@pytest.fixture
def cuba(alice):
    """Cuba's watch list, an open E|0, a resolved S|0, a feed lost and back, a mute."""
    live.save_watch(alice, alice.state, WATCH)
    record(alice, event())
    sub = dict(alert_id=f"bbbbbbbbbbbbbbbbbbbb@{T0 - 86400}", type="S|0",
               prefix="152.206.128.0/24", first_seen=T0 - 86400, last_seen=T0 - 84000)
    record(alice, event(**sub))
    record(alice, event("resolved", **sub, resolved_at=T0 - 86400 + 3900, duration=3900.0))
    source = "ris-live"
    record(alice, AlertEvent(event="feed-lost", alert_id=f"feed:{source}@{T0 - 7200}",
                             type="feed", source=source, first_seen=T0 - 7200))
    record(alice, AlertEvent(event="feed-restored", alert_id=f"feed:{source}@{T0 - 7200}",
                             type="feed", source=source, first_seen=T0 - 7200,
                             resolved_at=T0 - 6900, duration=300.0))
    record(alice, AlertEvent(event="muted", alert_id="mute:m1", type="mute", state="CU",
                             details={"id": "m1", "type": "visibility-loss",
                                      "until": T0 + 86400, "reason": "planned maintenance",
                                      "by": "noc"}))
    return alice


def test_focal_point_sees_her_states_page(cuba):
    text = page(client_for(cuba).get(URL))
    assert "152.206.0.0/16" in text and "169.158.0.0/16" in text      # watched prefixes
    current = text.split("Current alerts")[1].split("History")[0]
    assert "E|0" in current and "AS64500" in current
    assert "invalid" in current and "high" in current                # ROA tag, confidence
    history = text.split("History")[1]
    assert "S|0" in history and "152.206.128.0/24" in history
    assert "1 h" in history                                           # 3,900 s resolved
    assert "ris-live" in text and "planned maintenance" in text       # feed status, mutes
    assert 'class="timeline"' in text


def test_timeline_has_one_bar_per_alert_and_is_mirrored_in_arabic(cuba):
    client = client_for(cuba)
    html = client.get(URL).content.decode()
    timeline = html.split('class="timeline"')[1].split("</table>")[0]
    assert timeline.count("tl-bar") == 2
    assert "<svg" not in html.split('class="timeline"')[1].split("</figure>")[0]
    assert 'dir="ltr"' in html.split('class="timeline"')[0][-200:]
    with translation.override("ar"):
        client.cookies["django_language"] = "ar"
        arabic = client.get(URL, HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    assert '<html lang="ar" dir="rtl">' in arabic
    assert 'dir="rtl"' in arabic.split('class="timeline"')[0][-200:]


def test_another_states_focal_point_gets_404(cuba, bob):
    client = client_for(bob)
    assert client.get(URL, {"state": "CU"}).status_code == 404
    assert client.get(DOWNLOAD, {"state": "CU"}).status_code == 404
    assert client.post(URL + "?state=CU", {"yaml": WATCH}).status_code == 404
    # His own page knows nothing of Cuba's.
    own = page(client.get(URL))
    assert "152.206" not in own and "AS64500" not in own
    assert "No watch list yet" in own
    assert "sentinelle routing vrp-to-watch" in own


def test_secretariat_sees_every_state_but_cannot_edit(cuba, charlie):
    client = client_for(charlie)
    chooser = page(client.get(URL))
    assert "Cuba" in chooser and "152.206" not in chooser
    text = page(client.get(URL, {"state": "CU"}))
    assert "152.206.0.0/16" in text and "AS64500" in text
    assert "<textarea" not in client.get(URL, {"state": "CU"}).content.decode()
    assert client.post(URL + "?state=CU", {"yaml": WATCH}).status_code == 403
    assert client.get(DOWNLOAD, {"state": "CU"}).content.decode() == WATCH
    assert client.get(URL, {"state": "XX"}).status_code == 404


def test_council_and_anonymous_do_not_see_it(cuba, council):
    assert client_for(council).get(URL, {"state": "CU"}).status_code == 403
    assert client_for(council).get(URL).status_code == 403
    assert client_for(council).get(DOWNLOAD, {"state": "CU"}).status_code == 403
    response = client_for(None).get(URL)
    assert response.status_code == 302 and "/account/login/" in response["Location"]


def test_menu_offers_the_page_to_members_only(alice, council):
    assert 'href="/observatory/routing/"' in client_for(alice).get("/").content.decode()
    assert 'href="/observatory/routing/"' not in client_for(council).get("/").content.decode()


def test_saving_a_valid_watch_list_is_audited(alice):
    client = client_for(alice)
    response = client.post(URL, {"yaml": WATCH})
    assert response.status_code == 302
    watch = RoutingWatch.objects.get(state__alpha2="CU")
    assert watch.yaml == WATCH and watch.updated_by == alice
    entry = AuditEntry.objects.filter(action="observatory.routing.watch").get()
    assert entry.after["prefixes"] == 2 and entry.actor == alice
    text = page(client.get(URL))
    assert "169.158.0.0/16" in text
    download = client.get(DOWNLOAD)
    assert download["Content-Type"].startswith("application/yaml")
    assert "attachment" in download["Content-Disposition"]
    assert download.content.decode() == WATCH


def test_a_yaml_error_is_shown_with_its_line_and_nothing_saved(alice):
    broken = WATCH.replace("169.158.0.0/16", "169.158.0.0/33")
    response = client_for(alice).post(URL, {"yaml": broken})
    assert response.status_code == 200
    text = page(response)
    assert re.search(r"line 6\b", text), text
    assert "169.158.0.0/33" in response.content.decode()      # the textarea keeps the text
    assert not RoutingWatch.objects.exists()
    assert not AuditEntry.objects.filter(action="observatory.routing.watch").exists()


def test_another_states_code_is_refused_with_its_line(alice):
    other = WATCH + "  CH:\n    asns: [559]\n"
    text = page(client_for(alice).post(URL, {"yaml": other}))
    assert "CH" in text and re.search(r"line 7\b", text), text
    assert not RoutingWatch.objects.exists()


def test_an_empty_watch_list_is_refused(alice):
    text = page(client_for(alice).post(URL, {"yaml": "   "}))
    assert "This field is required" in text or "empty" in text
    assert not RoutingWatch.objects.exists()


def test_download_without_a_watch_list_is_404(alice):
    assert client_for(alice).get(DOWNLOAD).status_code == 404


def test_a_states_page_without_anything_says_what_to_do(alice):
    text = page(client_for(alice).get(URL))
    assert "No watch list yet" in text
    assert "No routing alert" in text


def test_unknown_state_code_for_the_secretariat_is_404(charlie):
    assert client_for(charlie).get(URL, {"state": "ZZ"}).status_code == 404
    assert MemberState.objects.filter(alpha2="CU").exists()


def test_timeline_places_each_bar_by_its_times():
    import datetime as dt
    from types import SimpleNamespace

    from sentinelle.observatory import timeline

    now = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)
    day = dt.timedelta(days=1)
    old = SimpleNamespace(raised_at=now - 4 * day, resolved_at=now - 3 * day, status="resolved")
    open_ = SimpleNamespace(raised_at=now - day, resolved_at=None, status="raised")
    undated = SimpleNamespace(raised_at=None, resolved_at=None, status="raised")
    chart = timeline.build([open_, old, undated], now, slots=8)
    assert len(chart.rows) == 2   # the undated alert has no bar
    first, second = chart.rows
    # The open alert runs from day 3 of 4 to now: the last two of eight columns.
    assert [(c.span, c.bar) for c in first.cells] == [(6, False), (2, True)]
    # The old one is the first quarter.
    assert [(c.span, c.bar) for c in second.cells] == [(2, True), (6, False)]
    assert sum(span for span, _at in chart.ticks) == 8 and chart.ticks[0][1] == old.raised_at
    assert timeline.build([undated], now) is None
    # A moment-long alert still gets one column, inside the chart.
    blip = SimpleNamespace(raised_at=now, resolved_at=now, status="resolved")
    only = timeline.build([blip], now, slots=8).rows[0].cells
    assert [(c.span, c.bar) for c in only] == [(7, False), (1, True)]
