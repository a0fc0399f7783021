"""The six official languages of ITU: Arabic, Chinese (Simplified), English, French, Russian and
Spanish, in the pages, the taxonomy, the Member State names, the CSV templates and the Council
report — and Arabic laid out right-to-left.

The catalogues are compiled afresh into a temporary LOCALE_PATHS, so a stale compiled ``.mo``
cannot hide or fake a translation (as in tests/project/test_translations.py).
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess  # noqa: S404 - runs msgfmt, fc-list and pdftotext with fixed arguments
import unicodedata

import polib
import pytest
from django.conf import settings as django_settings
from django.utils import translation

from sentinelle.core.models import MemberState
from sentinelle.exchange import templates_csv
from sentinelle.exchange.formats.csvxlsx import COLUMNS, HEADER_KEYS, _key
from sentinelle.incidents.models import Category, RsitClass, RsitType
from sentinelle.reports import services as service
from sentinelle.reports.options import ReportOptions
from tests.conftest import file_report, page
from tests.paths import ROOT

PACKAGE = ROOT / "src" / "sentinelle"
LOCALE = PACKAGE / "locale"
MSGFMT = shutil.which("msgfmt")
PDFTOTEXT = shutil.which("pdftotext")
FC_LIST = shutil.which("fc-list")

# Django language code -> catalogue directory.
CATALOGUES = {"fr": "fr", "es": "es", "ar": "ar", "zh-hans": "zh_Hans", "ru": "ru"}
PLURAL_FORMS = {
    "ar": "nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : "
          "n%100>=11 ? 4 : 5);",
    "zh_Hans": "nplurals=1; plural=0;",
    "ru": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
          "(n%100<10 || n%100>=20) ? 1 : 2);",
}
# What an anonymous visitor sees on "/": heading, sign-in link, direction.
HOME = {
    "en": ("ICT security incidents reported by Member States", "Sign in", "ltr"),
    "fr": ("Incidents de sécurité des TIC signalés par les États Membres", "Se connecter", "ltr"),
    "es": ("Incidentes de seguridad de las TIC notificados por los Estados Miembros",
           "Iniciar sesión", "ltr"),
    "ar": ("حوادث أمن تكنولوجيا المعلومات والاتصالات التي أبلغت عنها الدول الأعضاء",
           "تسجيل الدخول", "rtl"),
    "zh-hans": ("成员国报告的信息通信技术安全事件", "登录", "ltr"),
    "ru": ("Инциденты в области безопасности ИКТ, о которых сообщили Государства-Члены", "Войти",
           "ltr"),
}
# UN/ITU terminology that must hold in every new catalogue.
TERMS = {
    "Member State": {"ar": "الدولة العضو", "zh-hans": "成员国", "ru": "Государство-Член"},
    "Secretariat": {"ar": "الأمانة", "zh-hans": "秘书处", "ru": "Секретариат"},
    "Focal point": {"ar": "جهة الاتصال", "zh-hans": "联络人", "ru": "Координатор"},
    "incident report": {"ar": "تقرير الحادث", "zh-hans": "事件报告",
                        "ru": "сообщение об инциденте"},
    "Council report": {"ar": "تقرير المجلس", "zh-hans": "理事会报告", "ru": "Отчёт Совету"},
    "Report by the Secretary-General": {"ar": "تقرير الأمين العام", "zh-hans": "秘书长的报告",
                                        "ru": "Отчёт Генерального секретаря"},
    "Report an incident": {"ar": "الإبلاغ عن حادث", "zh-hans": "报告事件",
                           "ru": "Сообщить об инциденте"},
    "TLP:CLEAR": {"ar": "TLP:CLEAR", "zh-hans": "TLP:CLEAR", "ru": "TLP:CLEAR"},
}


def test_the_six_official_languages_are_offered():
    assert [code for code, _name in django_settings.LANGUAGES] == [
        "en", "fr", "es", "ar", "zh-hans", "ru"]
    for code, directory in CATALOGUES.items():
        assert (LOCALE / directory / "LC_MESSAGES" / "django.po").exists(), code


@pytest.mark.parametrize("directory", sorted(CATALOGUES.values()))
def test_every_catalogue_is_complete_with_the_right_plural_forms(directory):
    po = polib.pofile(str(LOCALE / directory / "LC_MESSAGES" / "django.po"))
    assert not po.untranslated_entries()
    assert not po.fuzzy_entries()
    if directory in PLURAL_FORMS:
        assert po.metadata["Plural-Forms"] == PLURAL_FORMS[directory]
        nplurals = int(PLURAL_FORMS[directory].split(";")[0].split("=")[1])
        for entry in po:
            if entry.msgid_plural:
                assert len(entry.msgstr_plural) == nplurals, entry.msgid
                assert all(entry.msgstr_plural.values()), entry.msgid
    for entry in po:
        # placeholders and markup survive translation
        pattern = r"%\(\w+\)[sd]|<[^>]+>|&\w+;"
        source = set(re.findall(pattern, entry.msgid + (entry.msgid_plural or "")))
        translations = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
        for text in translations:
            assert set(re.findall(pattern, text)) == source, (directory, entry.msgid, text)


@pytest.mark.parametrize("lang", sorted(HOME))
def test_home_page_speaks_every_official_language(client, db, catalogues, lang):
    heading, sign_in, direction = HOME[lang]
    client.cookies["django_language"] = lang
    text = page(client.get("/"))
    assert f'<html lang="{lang}" dir="{direction}">' in text
    assert f"<h1>{heading}</h1>" in text
    assert sign_in in text
    if lang != "en":
        assert "Sign in" not in text


@pytest.mark.parametrize(("accept", "lang", "direction"),
                         [("ar", "ar", "rtl"), ("zh-CN,zh;q=0.9", "zh-hans", "ltr"),
                          ("ru-RU,ru;q=0.9", "ru", "ltr")])
def test_accept_language_reaches_the_new_languages(client, db, catalogues, accept, lang,
                                                   direction):
    text = page(client.get("/", HTTP_ACCEPT_LANGUAGE=accept))
    assert f'<html lang="{lang}" dir="{direction}">' in text
    assert HOME[lang][0] in text


@pytest.mark.parametrize("lang", ["ar", "zh-hans", "ru"])
def test_un_terminology(catalogues, lang):
    with translation.override(lang):
        for english, expected in TERMS.items():
            assert translation.gettext(english) == expected[lang], english


def test_plurals_follow_the_language_rules(catalogues):
    message = "%(counter)s report"
    plural = "%(counter)s reports"
    with translation.override("ru"):
        forms = [translation.ngettext(message, plural, n) % {"counter": n} for n in (1, 3, 5, 21)]
    assert forms == ["1 сообщение", "3 сообщения", "5 сообщений", "21 сообщение"]
    with translation.override("ar"):
        two = translation.ngettext(message, plural, 2) % {"counter": 2}
        eleven = translation.ngettext(message, plural, 11) % {"counter": 11}
    assert "تقريران" in two
    assert eleven == "11 تقريراً"
    with translation.override("zh-hans"):
        assert translation.ngettext(message, plural, 7) % {"counter": 7} == "7 份报告"


@pytest.mark.parametrize(("lang", "category", "rsit_class", "rsit_type"), [
    ("ar", "تعطيل توجيه الحركة", "الإتاحة", "حجب الخدمة الموزع"),
    ("zh-hans", "扰乱流量路由", "可用性", "分布式拒绝服务"),
    ("ru", "Нарушение маршрутизации трафика", "Доступность",
     "Распределённый отказ в обслуживании"),
])
def test_taxonomy_labels(db, lang, category, rsit_class, rsit_type):
    ddos = RsitType.objects.get(rsit_class__code="availability", code="ddos")
    with translation.override(lang):
        assert Category.objects.get(code="routing-disruption").label == category
        assert ddos.rsit_class.label == rsit_class
        assert ddos.label == rsit_type


def test_every_shipped_label_exists_in_every_language(db):
    for model in (Category, RsitClass, RsitType):
        for row in model.objects.all():
            missing = {"en", "fr", "es", "ar", "zh", "ru"} - {k for k, v in row.labels.items() if v}
            assert not missing, (model.__name__, row.code, missing)


def test_the_data_migration_adds_the_new_languages_to_existing_rows(db):
    from django.apps import apps

    migration = importlib.import_module(
        "sentinelle.incidents.migrations.0004_taxonomy_six_languages")
    category = Category.objects.get(code="access-denial")
    ddos = RsitType.objects.get(rsit_class__code="availability", code="ddos")
    custom = {"en": "Denial of access", "fr": "Refus d'accès", "es": "Denegación"}
    Category.objects.filter(pk=category.pk).update(labels=custom)
    RsitType.objects.filter(pk=ddos.pk).update(labels={"en": "DDoS"})
    migration.add_labels(apps, None)
    category.refresh_from_db()
    ddos.refresh_from_db()
    assert category.labels["en"] == "Denial of access"  # what the instance chose stays
    assert category.labels["ar"] == "منع النفاذ إلى موارد الإنترنت العامة"
    assert category.labels["zh"] == "拒绝接入公共互联网资源"
    assert ddos.labels["ru"] == "Распределённый отказ в обслуживании"


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "Switzerland"), ("fr", "Suisse"), ("ar", "سويسرا"), ("zh-hans", "瑞士"),
    ("ru", "Швейцария")])
def test_member_state_names_follow_the_active_language(db, lang, expected):
    state = MemberState.objects.get(alpha2="CH")
    with translation.override(lang):
        assert state.name == expected


@pytest.mark.parametrize(("lang", "title"), [("ar", "العنوان"), ("zh", "标题"),
                                             ("ru", "Название")])
def test_csv_templates_in_the_new_languages(lang, title):
    header = templates_csv.header(lang)
    assert header[0] == title
    assert templates_csv.header("zh-hans") == templates_csv.header("zh")
    assert templates_csv.template_csv(lang).decode("utf-8-sig").splitlines()[0].startswith(title)
    for field, labels in COLUMNS.items():
        assert HEADER_KEYS[_key(labels[lang])] == field


def test_council_report_options_accept_the_six_languages(db):
    for lang, suffix in (("ar", "A"), ("zh-hans", "C"), ("zh", "C"), ("ru", "R")):
        options = ReportOptions(year=2026, lang=lang)
        assert options.document_reference == f"C27/70-{suffix}"
    assert ReportOptions(year=2026, lang="zh").lang == "zh-hans"


@pytest.fixture
def year_data(alice, bob):
    return [file_report(alice, tlp="clear"), file_report(alice, category="routing-disruption"),
            file_report(bob, tlp="green")]


def test_arabic_report_html_is_right_to_left(year_data, catalogues):
    document = service.produce(ReportOptions(year=2026, lang="ar", fmt="html")).document.decode()
    assert '<html lang="ar" dir="rtl">' in document
    assert "تقرير الأمين العام" in document
    assert '"Noto Sans Arabic"' in document and '"Noto Sans CJK SC"' in document


def _fonts() -> str:
    if FC_LIST is None:
        return ""
    return subprocess.run([FC_LIST, ":", "family"], capture_output=True, text=True,  # noqa: S603
                          check=False).stdout


@pytest.mark.parametrize(("lang", "font", "expected"), [
    ("ar", "Noto Sans Arabic", ["مقدمة", "تحليل الحوادث"]),
    ("zh-hans", "Noto Sans CJK SC", ["秘书长的报告", "引言"]),
    ("ru", "Noto Sans", ["Отчёт Генерального секретаря", "Введение"]),
])
def test_council_report_pdf_in_arabic_chinese_and_russian(year_data, catalogues, tmp_path, lang,
                                                         font, expected):
    if PDFTOTEXT is None:
        pytest.skip("pdftotext is not installed (apt-get install poppler-utils)")
    if font not in _fonts():
        pytest.skip(f"the {font} font is not installed (apt-get install fonts-noto-core "
                    "fonts-noto-cjk, as .ci/run does)")
    produced = service.produce(ReportOptions(year=2026, lang=lang, fmt="pdf"))
    path = tmp_path / "report.pdf"
    path.write_bytes(produced.document)
    text = subprocess.run([PDFTOTEXT, str(path), "-"], capture_output=True, text=True,  # noqa: S603
                          check=True).stdout
    # poppler wraps right-to-left runs in bidi embedding marks and may give presentation forms;
    # lam-alef ligatures come out decomposed in visual order, so the Arabic headings checked
    # here have none.
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", re.sub("[\u202a-\u202e]", "", text)))
    for heading in expected:
        assert heading in text, heading


def test_stylesheets_use_logical_properties_and_mirror_arrows():
    physical = re.compile(r"(margin|padding|border)-(left|right)|text-align:\s*(left|right)|"
                          r"float:\s*(left|right)|(?<![-\w])(left|right):")
    stylesheets = [PACKAGE / "static" / "sentinelle" / "site.css",
                   PACKAGE / "reports" / "council.css"]
    for css in stylesheets:
        rules = re.sub(r"/\*.*?\*/", "", css.read_text(encoding="utf-8"), flags=re.S)
        # A physical side is allowed only in a rule written for one direction whose mirror
        # (the same selector for the other direction, the other side) is there too.
        flip = {"ltr": "rtl", "rtl": "ltr", "left": "right", "right": "left"}
        blocks = dict(re.findall(r"([^{}]+)\{([^}]*)\}", rules))
        for selector, body in blocks.items():
            if not physical.search(body):
                continue
            selector = selector.strip()
            assert '[dir="ltr"]' in selector or '[dir="rtl"]' in selector, (css, selector)
            mirror = re.sub(r"ltr|rtl", lambda m, flip=flip: flip[m.group()], selector)
            mirrored = [s for s in blocks if s.strip() == mirror]
            assert mirrored, (css, selector, "has no mirror rule")
            expected = re.sub(r"left|right", lambda m, flip=flip: flip[m.group()], body).strip()
            assert blocks[mirrored[0]].strip() == expected, (css, selector, mirror)
    for template in (PACKAGE / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for style in re.findall(r'style="([^"]*)"', text):
            assert not physical.search(style), template
        for line in text.splitlines():
            if "→" in line or "←" in line:
                assert "dir-arrow" in line, (template, line)
    assert '[dir="rtl"] .dir-arrow' in (PACKAGE / "static" / "sentinelle" / "site.css").read_text(
        encoding="utf-8")
