"""English, French and Spanish are complete at all times, and the pages really speak them.

The catalogues are compiled afresh into a temporary LOCALE_PATHS for the page tests, so a
stale or missing compiled ``.mo`` next to the ``.po`` cannot hide (or fake) a translation.
"""

from __future__ import annotations

import shutil
import subprocess  # noqa: S404 - runs msgfmt and our own checker with fixed arguments
import sys

import pytest

from tests.conftest import page
from tests.paths import ROOT

CHECKER = ROOT / "scripts" / "check_translations.py"
LOCALE = ROOT / "src" / "sentinelle" / "locale"
MSGFMT = shutil.which("msgfmt")
needs_msgfmt = pytest.mark.skipif(
    MSGFMT is None, reason="GNU gettext's msgfmt is not installed (apt-get install gettext)")

# What an anonymous visitor sees on "/", in each language.
HOME = {
    "fr": {
        "heading": "Incidents de sécurité des TIC signalés par les États Membres",
        "sign_in": "Se connecter",
        "public": "Rapports publics",
        "skip": "Aller au contenu",
    },
    "es": {
        "heading": "Incidentes de seguridad de las TIC notificados por los Estados Miembros",
        "sign_in": "Iniciar sesión",
        "public": "Informes públicos",
        "skip": "Ir al contenido",
    },
}
ENGLISH = {
    "heading": "ICT security incidents reported by Member States",
    "sign_in": "Sign in",
    "public": "Public reports",
    "skip": "Skip to content",
}


def run_checker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(CHECKER), *args], capture_output=True, text=True, check=False)


@needs_msgfmt
def test_every_catalogue_is_complete():
    result = run_checker()
    assert result.returncode == 0, result.stdout + result.stderr
    checked = {line.split()[1].rstrip(":") for line in result.stdout.splitlines()}
    for lang in HOME:
        assert str(LOCALE / lang / "LC_MESSAGES" / "django.po") in checked


@needs_msgfmt
def test_checker_names_an_incomplete_catalogue(tmp_path):
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: fr\\n"\n\n'
        'msgid "Sign in"\nmsgstr "Se connecter"\n\n'
        '#, fuzzy\nmsgid "Sign out"\nmsgstr "Se déconnecter"\n\n'
        'msgid "Reports"\nmsgstr ""\n', encoding="utf-8")
    result = run_checker(str(po))
    assert result.returncode == 1
    assert str(po) in result.stderr
    assert "1 translated, 1 fuzzy, 1 untranslated" in result.stdout


@pytest.mark.parametrize("lang", sorted(HOME))
def test_home_page_follows_accept_language(client, db, catalogues, lang):
    text = page(client.get("/", HTTP_ACCEPT_LANGUAGE=f"{lang},en;q=0.5"))
    assert f'<html lang="{lang}" dir="ltr">' in text
    for key, expected in HOME[lang].items():
        assert expected in text, key
        assert ENGLISH[key] not in text, key


@pytest.mark.parametrize("lang", sorted(HOME))
def test_language_cookie_wins_over_accept_language(client, db, catalogues, lang):
    client.cookies["django_language"] = lang
    text = page(client.get("/", HTTP_ACCEPT_LANGUAGE="en"))
    assert f'<html lang="{lang}" dir="ltr">' in text
    assert f"<h1>{HOME[lang]['heading']}</h1>" in text
    assert HOME[lang]["sign_in"] in text


def test_english_stays_the_default(client, db, catalogues):
    text = page(client.get("/"))
    assert '<html lang="en" dir="ltr">' in text
    assert f"<h1>{ENGLISH['heading']}</h1>" in text


@pytest.mark.parametrize(("lang", "expected"),
                         [("fr", "Signaler un incident"), ("es", "Notificar un incidente")])
def test_focal_point_sees_report_an_incident_translated(client, alice, catalogues, lang,
                                                       expected):
    client.force_login(alice)
    client.cookies["django_language"] = lang
    text = page(client.get("/"))
    assert expected in text
    assert "Report an incident" not in text
