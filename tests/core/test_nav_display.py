"""Issue 12, points 18 and 19: what a person sees besides the pages' content — the grouped menu
and the favicon, Member State names as the UN writes them in each language, the access-denial
index in percent with a State <select>, dates in lists in the reader's format, and action-plan
verdicts marked by meaning. The layout itself is measured in
tests/browser/test_browser_navigation.py."""

from __future__ import annotations

import importlib
import re

import pytest
from django.apps import apps as django_apps
from django.test import Client
from django.utils import translation

from sentinelle.core.models import MemberState
from tests.conftest import PASSWORD, file_report, page
from tests.observatory.test_access_index import YEAR, measured  # noqa: F401 - a fixture used below

UN_NAMES = {  # the Russian Federation as the UN (and ITU) name it in the six languages
    "en": "Russian Federation", "fr": "Fédération de Russie", "es": "Federación de Rusia",
    "ar": "الاتحاد الروسي", "zh-hans": "俄罗斯联邦", "ru": "Российская Федерация"}
ISO_STYLE = re.compile(r"\((?:the|la|le|les|l'|l’|el|los|las)\)|\*$")


def _client(user=None, lang: str = "en") -> Client:
    client = Client()
    client.cookies["django_language"] = lang
    if user is not None:
        assert client.login(username=user.username, password=PASSWORD)
    return client


# Member State names ------------------------------------------------------------------------

@pytest.mark.parametrize(("lang", "expected"), UN_NAMES.items())
def test_state_names_are_the_un_short_names_in_each_language(db, lang, expected):
    russia = MemberState.objects.get(alpha2="RU")
    with translation.override(lang):
        assert russia.name == expected
    with translation.override("en"):
        assert MemberState.objects.get(alpha2="CI").name == "Côte d’Ivoire"  # not "Ivory Coast"
        assert MemberState.objects.get(alpha2="KR").name == "Republic of Korea"


def test_no_stored_name_is_iso_style(db):
    fields = [f"name_{lang}" for lang in ("en", "fr", "es", "ar", "zh", "ru")]
    for values in MemberState.objects.values_list("alpha2", *fields):
        for value in values[1:]:
            assert value and not ISO_STYLE.search(value), values


def test_the_migration_renames_stored_names_but_keeps_the_administrators_choice(db):
    migration = importlib.import_module(
        "sentinelle.core.migrations.0007_member_state_un_short_names")
    # As 0002 stored them, before this fix; Switzerland's English name was edited by hand.
    MemberState.objects.filter(alpha2="RU").update(
        name_en="Russian Federation (the)", name_fr="Fédération de Russie (la)")
    MemberState.objects.filter(alpha2="CI").update(name_en="Ivory Coast", admin_region="D")
    MemberState.objects.filter(alpha2="CH").update(name_en="Swiss Confederation",
                                                   name_fr="Suisse (la)")
    migration.rename(django_apps, None)
    russia, ivory, swiss = (MemberState.objects.get(alpha2=c) for c in ("RU", "CI", "CH"))
    assert (russia.name_en, russia.name_fr) == ("Russian Federation", "Fédération de Russie")
    assert (ivory.name_en, ivory.admin_region) == ("Côte d’Ivoire", "D")
    assert (swiss.name_en, swiss.name_fr) == ("Swiss Confederation", "Suisse")


@pytest.mark.parametrize("lang", ["en", "fr", "ar", "zh-hans"])
def test_the_report_form_names_the_states_in_the_readers_language(alice, lang):
    text = page(_client(alice, lang).get("/incidents/new/"))
    select = re.search(r'<select name="alleged_origin_state"[^>]*>(.*?)</select>', text, re.S)
    options = dict(re.findall(r'<option value="([A-Z]{2})"[^>]*>([^<]*)</option>', select[1]))
    assert options["RU"] == UN_NAMES[lang]
    assert not [name for name in options.values() if ISO_STYLE.search(name)]


def test_the_gateway_state_filter_names_states_without_a_query_each(
        db, django_assert_max_num_queries):
    client = _client(lang="fr")
    with django_assert_max_num_queries(30):
        text = page(client.get("/gateway/initiatives/"))
    assert ">Fédération de Russie</option>" in text


# The access-denial index page ------------------------------------------------------------------

def test_the_index_page_shows_percentages(measured, charlie):  # noqa: F811
    text = page(_client(charlie).get(f"/observatory/index/?year={YEAR}"))
    cells = re.findall(r"<td>([^<]*)</td>", text)
    assert "75%" in cells and "66.7%" in cells  # Cuba's March docker 3/4, Switzerland 2/3
    assert "0.75" not in cells and "0.6667" not in cells
    french = page(_client(charlie, "fr").get(f"/observatory/index/?year={YEAR}"))
    assert "66,7%" in re.findall(r"<td>([^<]*)</td>", french)  # decimal comma in French
    # The CSV keeps the fraction, as the API does.
    body = b"".join(_client(charlie).get(
        f"/observatory/index.csv?year={YEAR}&by=state,service").streaming_content).decode()
    assert "CU,Cuba,hub.docker.com,0.6667" in body


def _state_options(text: str) -> list[tuple[str, str]]:
    select = re.search(r'<select name="state"[^>]*>(.*?)</select>', text, re.S)
    assert select, "the State filter is a <select>"
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))


def test_the_index_state_filter_is_a_select_of_the_states_one_may_see(measured, charlie, bob):  # noqa: F811
    options = _state_options(page(_client(charlie, "fr").get(f"/observatory/index/?year={YEAR}")))
    # Every State whose measurements the analyst may see, named and sorted in French.
    assert options[0][0] == "" and options[1:] == [("CU", "Cuba"), ("CH", "Suisse")]
    filtered = page(_client(charlie).get(f"/observatory/index/?year={YEAR}&state=CH"))
    assert 'value="CH" selected' in filtered
    assert "Switzerland" in filtered and "<td>Cuba</td>" not in filtered
    # Bob may not see Cuba's measurements: Cuba is not offered to him.
    assert [code for code, _name in _state_options(
        page(_client(bob).get(f"/observatory/index/?year={YEAR}")))] == ["", "CH"]


def test_an_unknown_state_in_the_index_filter_is_named(measured, charlie):  # noqa: F811
    text = page(_client(charlie).get(f"/observatory/index/?year={YEAR}&state=ZZ"))
    assert "Select a valid choice. ZZ is not one of the available choices." in text


# Dates in lists --------------------------------------------------------------------------------

@pytest.mark.parametrize(("lang", "shown"), [
    ("en", "2026-03-01 08:05"), ("fr", "01/03/2026 08:05"),
    ("ar", "01\u200f/03\u200f/2026 08:05"), ("zh-hans", "2026年3月1日 08:05"),
    ("ru", "01.03.2026 08:05")])
def test_dates_in_the_report_list_follow_the_readers_language(alice, lang, shown):
    file_report(alice, started_at="2026-03-01T08:05:00Z")
    text = page(_client(alice, lang).get("/incidents/"))
    assert f"<bdi>{shown}</bdi>" in text
    if lang != "en":  # English is ISO 8601 (formats/en): the one language where it is expected
        assert "2026-03-01 08:05" not in text


# Header: grouped menu and favicon -----------------------------------------------------------

def _menu(text: str) -> str:
    return re.search(r'<nav aria-label="Main">(.*?)</nav>', text, re.S).group(1)


def test_the_menu_groups_the_pages_by_purpose_and_role(alice, council, charlie):
    focal = _menu(page(_client(alice).get("/")))
    groups = re.findall(r"<summary[^>]*>([^<]+)</summary>", focal)
    assert groups == ["Reports", "Analysis", "Observatory", "Exchange"]
    assert 'href="/returns/"' in focal and 'href="/account/tokens/"' in focal
    reader = _menu(page(_client(council).get("/")))
    assert 'href="/returns/"' not in reader and 'href="/account/tokens/"' not in reader
    assert 'href="/exchange/"' not in reader and 'href="/reports/"' in reader
    visitor = _menu(page(_client().get("/")))
    assert 'href="/observatory/"' not in visitor and 'href="/admin/"' not in visitor
    # The page one is on is marked for assistive technology and underlined.
    here = _menu(page(_client(charlie).get("/observatory/index/")))
    assert re.search(r'href="/observatory/index/" aria-current="page"', here)
    assert 'href="/observatory/" aria-current' not in here


def test_every_page_has_a_favicon_served_as_a_static_file(db):
    text = page(_client().get("/"))
    links = dict((m[1], m[0]) for m in re.findall(
        r'<link rel="icon" href="([^"]+)"(?: type="([^"]*)")?', text))
    svg, ico = links["image/svg+xml"], links[""]
    assert svg.endswith(".svg") and ico.endswith(".ico")
    svg_response = Client().get(svg)
    assert svg_response.status_code == 200
    assert b"".join(svg_response.streaming_content).startswith(b"<svg")
    ico_response = Client().get(ico)
    assert ico_response.status_code == 200
    assert b"".join(ico_response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # ICO header


# Action-plan verdicts -----------------------------------------------------------------------

def test_action_plan_verdicts_carry_their_meaning_and_their_word(charlie):
    import datetime as dt

    from sentinelle.actionplan.models import Action, Indicator

    start, deadline = dt.date(2025, 1, 1), dt.date(2027, 1, 1)
    action = Action.objects.create(code="A1", clause="Res. 130", title="Report to Council",
                                   responsible="GS", start_date=start, end_date=deadline)
    Indicator.objects.create(action=action, code="A1.1", name="Workshops", unit="workshops",
                             baseline=0, baseline_date=start, target=10, deadline=deadline)
    text = page(_client(charlie).get("/action-plan/"))
    verdicts = re.findall(r'<strong class="status verdict" data-status="([a-z-]+)">([^<]+)',
                          text)
    assert verdicts and all(word.strip() for _status, word in verdicts)
    css = Client().get("/static/sentinelle/site.css")
    rules = b"".join(css.streaming_content).decode()
    for status in ("achieved", "on-track", "at-risk", "off-track", "not-measured"):
        assert f'.verdict[data-status="{status}"]' in rules
