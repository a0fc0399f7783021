"""Downloadable CSV/XLSX report templates, one per language: translated header and an example
row whose codes (category, RSIT, TLP) stay language-neutral.

The header labels and example texts are data (formats/csvxlsx.COLUMNS and EXAMPLES below),
not gettext messages, on purpose: the parser must recognise every language's header whatever
the reader's own language, so the labels it accepts and the labels we hand out must be the
same table. Adding a language = adding its labels to COLUMNS and its example here.
"""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Font

from sentinelle.exchange.formats.csvxlsx import COLUMNS, LANGUAGES

EXAMPLES: dict[str, dict[str, str]] = {
    "en": {
        "title": "DDoS against the national portal",
        "affected_services": "fixed internet; mobile internet",
        "description": "Volumetric attack from a botnet; the portal was unreachable for 4 hours.",
    },
    "fr": {
        "title": "Attaque DDoS contre le portail national",
        "affected_services": "internet fixe; internet mobile",
        "description": "Attaque volumétrique depuis un réseau de zombies ; le portail est "
                       "resté inaccessible 4 heures.",
    },
    "es": {
        "title": "Ataque DDoS contra el portal nacional",
        "affected_services": "internet fija; internet móvil",
        "description": "Ataque volumétrico desde una red de bots; el portal estuvo "
                       "inaccesible durante 4 horas.",
    },
    "ar": {
        "title": "هجوم حجب الخدمة الموزع على البوابة الوطنية",
        "affected_services": "الإنترنت الثابت; الإنترنت المتنقل",
        "description": "هجوم حجمي من شبكة روبوتات؛ تعذّر الوصول إلى البوابة لمدة 4 ساعات.",
    },
    "zh": {
        "title": "针对国家门户网站的 DDoS 攻击",
        "affected_services": "固定互联网; 移动互联网",
        "description": "来自僵尸网络的流量型攻击；门户网站 4 小时无法访问。",
    },
    "ru": {
        "title": "DDoS-атака на национальный портал",
        "affected_services": "фиксированный интернет; мобильный интернет",
        "description": "Объёмная атака с ботнета; портал был недоступен в течение 4 часов.",
    },
}
CODES = {
    "category": "trust-security", "rsit": "availability:ddos", "tlp": "amber",
    "severity": "high", "started_at": "2026-03-01T08:00:00Z", "ended_at": "2026-03-01T12:00:00Z",
    "detected_at": "2026-03-01T08:20:00Z", "users_affected": "15000",
    "alleged_origin_state": "", "indicators": "ipv4:203.0.113.7; domain:botnet.example",
    "stix_id": "",
}


def _language(language: str) -> str:
    code = (language or "en").split("-")[0].lower()
    return code if code in LANGUAGES else "en"


def header(language: str) -> list[str]:
    lang = _language(language)
    return [labels.get(lang, labels["en"]) for labels in COLUMNS.values()]


def example(language: str) -> list[str]:
    lang = _language(language)
    texts = {**CODES, **EXAMPLES[lang], "narrative_language": lang}
    return [texts.get(field, "") for field in COLUMNS]


def template_csv(language: str = "en") -> bytes:
    """UTF-8 with a BOM, so that Excel opens accented headers correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header(language))
    writer.writerow(example(language))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def template_xlsx(language: str = "en") -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "reports"
    sheet.append(header(language))
    sheet.append(example(language))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, field in enumerate(COLUMNS, start=1):
        width = 60 if field == "description" else 24
        sheet.column_dimensions[sheet.cell(1, index).column_letter].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
