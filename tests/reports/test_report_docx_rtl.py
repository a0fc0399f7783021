"""The Council report in Arabic is right-to-left in DOCX too (issue 12, point 4), as it is in HTML
and PDF; the English one is left-to-right."""

from __future__ import annotations

import datetime as dt
import io

import docx
import pytest
from docx.oxml.ns import qn

from sentinelle.reports import services as service
from sentinelle.reports.options import ReportOptions
from tests.conftest import file_report


@pytest.fixture
def produced(alice, bob):
    for user in (alice, bob, alice, bob):
        file_report(user, tlp="green")

    def make(lang: str) -> docx.document.Document:
        options = ReportOptions(year=2026, lang=lang, fmt="docx", date=dt.date(2027, 3, 1))
        return docx.Document(io.BytesIO(service.produce(options).document))

    return make


def paragraphs(d):
    yield from d.paragraphs
    for table in d.tables:
        for row in table.rows:
            for cell in row.cells:
                yield from cell.paragraphs


def test_the_arabic_docx_is_right_to_left(produced):
    d = produced("ar")
    paras = [p for p in paragraphs(d) if p.text.strip()]
    assert len(paras) > 50
    for p in paras:
        ppr = p._p.pPr
        assert ppr is not None and ppr.find(qn("w:bidi")) is not None, p.text
        # Start of a right-to-left paragraph = the right margin; an explicit left/right would
        # be read as start/end by Word and move numbers to the left.
        jc = ppr.find(qn("w:jc"))
        assert jc is None or jc.get(qn("w:val")) == "center", p.text
        for run in p.runs:
            assert run._r.rPr.find(qn("w:rtl")) is not None, run.text
    assert d.tables and all(t._tbl.tblPr.find(qn("w:bidiVisual")) is not None
                            for t in d.tables)
    assert all(s._sectPr.find(qn("w:bidi")) is not None for s in d.sections)
    # Arabic text, not English left behind.
    assert any("الحوادث" in p.text for p in paras)


def test_the_english_docx_is_left_to_right(produced):
    d = produced("en")
    body = d.element.body
    assert body.find(".//" + qn("w:bidi")) is None
    assert body.find(".//" + qn("w:rtl")) is None
    assert body.find(".//" + qn("w:bidiVisual")) is None
    numbers = [p for t in d.tables for row in t.rows[1:] for p in row.cells[-1].paragraphs]
    assert numbers and all(p.alignment == docx.enum.text.WD_ALIGN_PARAGRAPH.RIGHT
                           for p in numbers)
