"""Charts of the Council report read correctly in every official language (issue 12, point 2).

Arabic chart text must reach the PDF as text in logical order (shaped and ordered by WeasyPrint),
the chart mirrored (categories on the right, bars and value axis growing leftwards), and the
charts drawn as images for DOCX must find a font for every Chinese and Arabic character.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
from django.utils import translation

from sentinelle.analysis import charts as analysis_charts
from sentinelle.reports import charts, content
from sentinelle.reports import services as service
from tests.paths import ROOT
from tests.reports import test_report
from tests.reports.test_report import options

PDFTOTEXT = shutil.which("pdftotext")
PDFTOPPM = shutil.which("pdftoppm")
needs_poppler = pytest.mark.skipif(
    PDFTOTEXT is None or PDFTOPPM is None,
    reason="pdftotext/pdftoppm are not installed (apt install poppler-utils)")
year_data = test_report.year_data
ARTIFACTS = ROOT / "artifacts" / "browser"
# Bidi embedding/isolate marks pdftotext puts around right-to-left runs.
BIDI_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _pages(pdf: bytes, tmp_path: Path) -> tuple[Path, list[str]]:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([PDFTOTEXT, str(path), "-"], capture_output=True, text=True,
                         check=True).stdout
    return path, [re.sub(r"\s+", " ", BIDI_MARKS.sub("", page)) for page in out.split("\f")]


def _words(path: Path, page: int) -> list[tuple[str, float, float]]:
    """(word, x-min, y-min) of every word pdftotext finds on a page (1-based)."""
    out = subprocess.run([PDFTOTEXT, "-bbox", "-f", str(page), "-l", str(page), str(path), "-"],
                         capture_output=True, text=True, check=True).stdout
    return [(BIDI_MARKS.sub("", w), float(x), float(y)) for x, y, w in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>([^<]*)</word>', out)]


def _as_extracted(text: str) -> str:
    """Poppler extracts the lam-alef ligatures (لا, لإ, لأ, لآ) as alef then lam."""
    return re.sub("ل([اإأآ])", lambda m: m.group(1) + "ل", text)


def _gettext(lang: str, message: str) -> str:
    with translation.override(lang):
        return translation.gettext(message)


@needs_poppler
@pytest.mark.parametrize("lang", ["ar", "en", "zh-hans", "ru"])
def test_the_pdf_charts_carry_their_text_in_reading_order(lang, year_data, tmp_path):
    pdf = service.produce(options(lang=lang, fmt="pdf")).document
    path, pages = _pages(pdf, tmp_path)
    caption = _gettext(lang, "Incidents by RSIT class")
    axis = _gettext(lang, "Incidents")
    rsit = next(t for t in content.build(options(lang=lang)).tables() if t.key == "by_rsit_class")
    availability = next(str(row[0]) for row in rsit.rows if row[1].text != "0")
    number = next(i for i, text in enumerate(pages, 1) if caption in text)
    text = pages[number - 1]
    # The axis title and the bar label are on the chart's page, in logical order: the RSIT
    # class appears once in its table and once more in the chart.
    assert axis in text
    assert sum(page.count(_as_extracted(availability)) for page in pages) >= 2, availability
    if lang == "ar":
        assert axis == "الحوادث" and "ثداوحلا" not in " ".join(pages)
        assert _as_extracted(availability)[::-1] not in " ".join(pages)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = "report-ar-charts" if lang == "ar" else f"report-{lang}-charts"
    subprocess.run([PDFTOPPM, "-f", str(number), "-l", str(number), "-r", "80", "-png",
                    "-singlefile", str(path), str(ARTIFACTS / name)], check=True)
    assert (ARTIFACTS / f"{name}.png").stat().st_size > 1000

    # The value axis of the RSIT chart runs from 0 at the categories' side towards the end of
    # the line: rightwards in English, leftwards in Arabic.
    lines: dict[float, list[tuple[str, float]]] = {}
    for word, x, y in _words(path, number):
        lines.setdefault(round(y), []).append((word, x))
    # -bbox lists each word's characters in drawing order: right-to-left words come reversed.
    # Another chart may share the page (the trends chart, whose axis title is the same word,
    # under a table of years): the RSIT chart's axis title is the one whose line just above
    # holds tick marks, distinct numbers from 0.
    def ticks_above(title_y: float) -> list[tuple[str, float]] | None:
        above = [y for y, line in lines.items()
                 if y < title_y and all(w.isdigit() for w, _x in line)]
        if not above:
            return None
        line = lines[max(above)]
        numbers = [w for w, _x in line]
        return line if "0" in numbers and len(set(numbers)) == len(numbers) > 1 else None
    titles = sorted((y for y, line in lines.items()
                     if [w for w, _x in line] in ([axis], [axis[::-1]])), reverse=True)
    ticks = next(line for line in map(ticks_above, titles) if line is not None)
    zero = next(x for w, x in ticks if w == "0")
    others = [x for w, x in ticks if w != "0"]
    assert others, ticks
    if lang == "ar":
        assert all(x < zero for x in others), ticks
    else:
        assert all(x > zero for x in others), ticks


def test_rtl_chart_puts_the_category_first_in_each_row_and_keeps_text_as_text(db):
    with translation.override("ar"):
        chart = charts.bars("chart-x", "عنوان", ["الإتاحة", "أخرى"], [9, None],
                            ["9", "<3"], "الحوادث")
    html = str(chart.html)
    assert 'dir="rtl"' in html
    assert "الإتاحة" in html and "الحوادث" in html and "&lt;3" in html
    assert html.index("الإتاحة") < html.index("chart-bar")  # the category is at the row's start


@pytest.mark.parametrize("lang", ["zh-hans", "ar", "ru"])
def test_chart_images_find_a_glyph_for_every_character(lang, year_data):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        service.produce(options(lang=lang, fmt="docx"))
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []


def _attr(tag: str, name: str) -> float:
    return float(re.search(rf'\b{name}="([-\d.]+)"', tag).group(1))


def test_the_analysis_page_charts_are_mirrored_in_arabic():
    """The /analysis/ page's SVG charts: the browser shapes their text; in Arabic they also read
    from the right (labels right of the bars, values left of them, the first month rightmost)."""
    rows = [{"key": "availability", "label": "الإتاحة", "incidents": 9},
            {"key": "other", "label": "أخرى", "incidents": None, "display": "<3"}]
    with translation.override("ar"):
        svg = str(analysis_charts.bar_chart(rows, "الحوادث حسب الفئة"))
        months = str(analysis_charts.column_chart(
            [{"key": f"2026-{m:02d}", "incidents": m} for m in range(1, 13)], "الحوادث"))
    assert 'direction="rtl"' in svg and 'direction="rtl"' in months
    rect = re.search(r"<rect [^>]*>", svg).group(0)
    label = re.search(r"<text [^>]*>(?=الإتاحة)", svg).group(0)
    value = re.search(r"<text [^>]*>(?=9<)", svg).group(0)
    # text-anchor "end" in a right-to-left SVG is the text's left edge: the label starts right
    # of the bar's right end and runs rightwards; the value ends left of the bar.
    assert 'text-anchor="end"' in label
    assert _attr(label, "x") >= _attr(rect, "x") + _attr(rect, "width")
    assert _attr(value, "x") < _attr(rect, "x")
    columns = [_attr(tag, "x") for tag in re.findall(r"<rect [^>]*>", months)]
    assert columns == sorted(columns, reverse=True)  # January on the right
    with translation.override("en"):
        english = str(analysis_charts.bar_chart(rows, "Incidents"))
    rect = re.search(r"<rect [^>]*>", english).group(0)
    label = re.search(r"<text [^>]*>(?=الإتاحة)", english).group(0)
    assert 'direction="ltr"' in english and _attr(label, "x") <= _attr(rect, "x")
