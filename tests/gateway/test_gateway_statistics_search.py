"""Gateway search also finds the public statistics, never a report itself."""

import datetime as dt

from django.utils import translation

from tests.conftest import file_report


def test_search_finds_the_public_figures_of_a_category_in_french(client, alice, bob):
    year = dt.date.today().year
    for user in (alice, bob, alice):
        file_report(user, category="access-denial", tlp="amber", title="Secret block page",
                    started_at=f"{year}-01-05T08:00:00+00:00",
                    ended_at=f"{year}-01-05T09:00:00+00:00")
    with translation.override("fr"):
        page = client.get("/gateway/search/?q=refus+d%27acc%C3%A8s",
                          HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Refus d&#x27;accès" in page or "Refus d'accès" in page
    assert "/gateway/statistics/" in page
    assert "Secret block page" not in page


def test_a_query_naming_no_category_shows_no_figures(client, alice):
    file_report(alice, category="access-denial")
    page = client.get("/gateway/search/?q=zzzz").content.decode()
    assert "/gateway/statistics/?year" not in page
