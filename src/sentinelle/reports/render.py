"""Rendering a report Document as HTML, PDF (WeasyPrint, from the HTML) or DOCX (python-docx,
from the same Document), and its annex as CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from sentinelle.core.pdf import html_to_pdf
from sentinelle.reports.document import (
    Bullets,
    ChartBlock,
    Document,
    Figure,
    Paragraph,
    Section,
    Table,
    heading_text,
)

CSS = (Path(__file__).resolve().parent / "council.css").read_text(encoding="utf-8")


def html(doc: Document) -> bytes:
    with translation.override(doc.lang):
        text = render_to_string("reports/council.html", {
            "doc": doc, "css": CSS,
            "direction": "rtl" if translation.get_language_bidi() else "ltr"})
    return text.encode("utf-8")


def pdf(doc: Document) -> bytes:
    return html_to_pdf(html(doc).decode("utf-8"))


def csv_bytes(doc: Document) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", "key", "label", "column", "value"])
    for row in doc.csv:
        writer.writerow([row.table, row.key, row.label, row.column, row.value])
    return out.getvalue().encode("utf-8")


def _text(part) -> str:
    return part.text if isinstance(part, Figure) else str(part)


def docx(doc: Document) -> bytes:
    from docx import Document as Docx
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    d = Docx()
    style = d.styles["Normal"]
    style.font.name, style.font.size = "Calibri", Pt(11)
    props = d.core_properties
    props.title, props.language, props.author = doc.cover.title, doc.lang, ""
    cover = doc.cover
    for text, bold, size in ((cover.council, True, 16), (cover.agenda_item, False, 11),
                             (cover.document, True, 11), (cover.date, False, 11),
                             (cover.original, False, 11)):
        p = d.add_paragraph()
        run = p.add_run(text)
        run.bold, run.font.size = bold, Pt(size)
    p = d.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.add_run(cover.report_by).bold = True
    d.add_heading(cover.title, level=0).alignment = WD_ALIGN_PARAGRAPH.CENTER
    d.add_heading(doc.labels["summary"], level=1)
    for para in doc.summary:
        d.add_paragraph(para.text)
    d.add_heading(doc.labels["action_required"], level=1)
    for para in doc.action_required:
        d.add_paragraph(para.text)
    d.add_heading(doc.labels["references"], level=1)
    for ref in doc.references:
        d.add_paragraph(ref, style="List Bullet")
    d.add_page_break()

    def block(b):
        if isinstance(b, Paragraph):
            d.add_paragraph(b.text)
        elif isinstance(b, Bullets):
            for item in b.items:
                d.add_paragraph(item.text, style="List Bullet")
        elif isinstance(b, Table):
            caption = d.add_paragraph()
            caption.add_run(b.caption).bold = True
            table = d.add_table(rows=1, cols=len(b.columns))
            table.style = "Table Grid"
            table.alignment = WD_TABLE_ALIGNMENT.CENTER
            for cell, name in zip(table.rows[0].cells, b.columns, strict=True):
                cell.text = name
                cell.paragraphs[0].runs[0].bold = True
            for row in b.rows:
                cells = table.add_row().cells
                for i, (cell, value) in enumerate(zip(cells, row, strict=True)):
                    cell.text = _text(value)
                    if b.numeric[i]:
                        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
        elif isinstance(b, ChartBlock):
            d.add_picture(io.BytesIO(b.chart.png), width=Cm(15))
            cap = d.add_paragraph()
            cap.add_run(b.chart.caption).italic = True

    def section(s: Section, level: int):
        d.add_heading(heading_text(s), level=level)
        for b in s.blocks:
            block(b)
        for sub in s.subsections:
            section(sub, level + 1)

    for s in doc.sections:
        section(s, 1)
    for s in doc.annexes:
        d.add_page_break()
        section(s, 1)
    if doc.lang.split("-")[0] in settings.LANGUAGES_BIDI:
        _right_to_left(d)
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


# Children that follow each right-to-left property in its parent's schema sequence (ECMA-376
# Part 1, 17.3.1.26 pPr, 17.3.2.28 rPr, 17.4.60 tblPr, 17.6.17 sectPr): Word refuses a file
# whose elements are out of order.
_AFTER_BIDI = ("w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing",
               "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection",
               "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle",
               "w:rPr", "w:sectPr", "w:pPrChange")
_AFTER_RTL = ("w:cs", "w:em", "w:lang", "w:eastAsianLayout", "w:specVanish", "w:oMath")
_AFTER_BIDI_VISUAL = ("w:tblStyleRowBandSize", "w:tblStyleColBandSize", "w:tblW", "w:jc",
                      "w:tblCellSpacing", "w:tblInd", "w:tblBorders", "w:shd", "w:tblLayout",
                      "w:tblCellMar", "w:tblLook", "w:tblCaption", "w:tblDescription",
                      "w:tblPrChange")
_AFTER_SECTION_BIDI = ("w:rtlGutter", "w:docGrid", "w:printerSettings", "w:sectPrChange")


def _right_to_left(d) -> None:
    """Make a python-docx document right-to-left, as the HTML and PDF are for Arabic: every
    paragraph ``w:bidi`` (so it starts at the right margin), every run ``w:rtl``, every table
    ``w:bidiVisual`` (first column on the right) and the section ``w:bidi``."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def flag(parent, tag: str, successors: tuple[str, ...]) -> None:
        if parent.find(qn(tag)) is None:
            parent.insert_element_before(OxmlElement(tag), *successors)

    body = d.element.body
    for p in body.iter(qn("w:p")):
        ppr = p.get_or_add_pPr()
        flag(ppr, "w:bidi", _AFTER_BIDI)
        # In a bidi paragraph Word reads "left"/"right" as start/end: an explicit "right"
        # (numbers in tables) would put the text at the left. Without jc a paragraph starts
        # at the right margin; centred text stays centred.
        jc = ppr.find(qn("w:jc"))
        if jc is not None and jc.get(qn("w:val")) != "center":
            ppr.remove(jc)
        for r in p.iter(qn("w:r")):
            flag(r.get_or_add_rPr(), "w:rtl", _AFTER_RTL)
    for tbl in body.iter(qn("w:tbl")):
        flag(tbl.tblPr, "w:bidiVisual", _AFTER_BIDI_VISUAL)
    for sect in body.iter(qn("w:sectPr")):
        flag(sect, "w:bidi", _AFTER_SECTION_BIDI)
    # The complex-script font and language of every style, for the Arabic runs.
    normal = d.styles["Normal"].element.get_or_add_rPr()
    fonts = normal.get_or_add_rFonts()
    fonts.set(qn("w:cs"), "Arial")
    lang = normal.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        normal.insert_element_before(lang, "w:eastAsianLayout", "w:specVanish", "w:oMath")
    lang.set(qn("w:bidi"), "ar-SA")


RENDERERS = {"html": html, "pdf": pdf, "docx": docx}
